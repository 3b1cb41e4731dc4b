"""``discover demo``: build the demo estate, search it and write the access package."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from discover.cli.options import DirPath
from discover.cli.output import console, print_summary

DEMO_INSTRUCTION = "DEMO-INSTRUCTION-1 (the demo clients' standing instruction)"


@click.command()
@click.option(
    "--out",
    type=DirPath(),
    default=Path("demo"),
    show_default=True,
    help="Directory for the estate, case and package.",
)
@click.pass_context
def demo(ctx: click.Context, out: Path) -> None:
    """Build a demo estate (no server needed), search it for the demo subject and export.

    Writes under --out: estate/ (SQLite databases and files), sources.yaml,
    request.json, case/ and packages/. Running it again rebuilds the same directory;
    a directory that holds anything else is refused (exit 2).

    Exit codes: 0 done; 1 a demo source failed; 2 --out is not empty and not a demo
    directory.
    """
    # The estate's builders, the engine and the exporters load here, not for --help.
    from discover.case import write_case
    from discover.demo import build_estate
    from discover.engine import search
    from discover.request import load_request
    from discover.sources import load_sources
    from exporters import export_package

    layout = build_estate(out)
    sources = load_sources(layout.sources)
    request = load_request(layout.request)
    result = search(request, sources)
    summary = write_case(result, layout.case, force=True)
    print_summary(summary, case_path=str(layout.case))
    formats = ["json", "csv", "xlsx"]
    # The demo shows every part: the provider's own data and, on the demo client's
    # instruction, what it processes for the clients; its possible matches (the
    # namesake) stay out until reviewed, which the export log records.
    demo_export = {
        "formats": formats,
        "out": layout.packages,
        "force": True,
        "controller": "all",
        "client_instruction": DEMO_INSTRUCTION,
        "allow_undecided": True,
        "exported_by": "discover demo",
    }
    package = export_package(layout.case, kind="access", **demo_export).path  # type: ignore[arg-type]
    portability = export_package(layout.case, kind="portability", **demo_export).path  # type: ignore[arg-type]
    from discover.desk.hooks import demo_registered  # --out is also a data directory

    demo_registered(out, request, summary, {"access": package, "portability": portability})
    out_console = console()
    out_console.print(f"sources file: {escape(str(layout.sources))}")
    out_console.print(f"request:      {escape(str(layout.request))}")
    out_console.print(f"case:         {escape(str(layout.case))}")
    out_console.print(f"package:      {escape(str(package))}")
    out_console.print(f"portability:  {escape(str(portability))}")
    out_console.print(f"review:       discover review {escape(str(layout.case))}")
    ctx.exit(0 if summary["complete"] else 1)
