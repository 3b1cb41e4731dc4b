"""``discover mappings check``: validate mappings offline, or against the live sources."""

from __future__ import annotations

from pathlib import Path

import click

from connectors import connector_class
from discover.cli.output import console, print_json
from discover.errors import SourceError
from discover.register import default_register
from discover.sources import load_sources


@click.group()
def mappings() -> None:
    """Work with mappings."""


@mappings.command()
@click.option(
    "--sources", "sources_file", required=True, type=click.Path(path_type=Path, dir_okay=False)
)
@click.option("--live", is_flag=True, help="Connect and check that every mapped place exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check(ctx: click.Context, sources_file: Path, live: bool, as_json: bool) -> None:
    """Validate the sources file and every mapping it names.

    Offline: schema, register categories, references inside each mapping (exit 2 on
    the first malformed file). With --live: connect to each source and report
    missing tables, columns, attributes or bases (exit 1 when any is found).
    """
    register = default_register()
    sources = load_sources(sources_file)
    loaded = sources.load_mappings(register)
    report = []
    for source in sources.sources:
        entry = {
            "source": source.name,
            "kind": source.kind,
            "mapping": str(source.mapping_path),
            "problems": [],
        }
        if live:
            cls = connector_class(source.kind)
            connector = cls(source, loaded[source.name].model, register, sources.settings)
            try:
                connector.check()
                entry["problems"] = connector.check_mapping()
            except SourceError as exc:
                entry["problems"] = [f"cannot connect: {exc.message}"]
            finally:
                connector.close()
        report.append(entry)
    failed = any(entry["problems"] for entry in report)
    if as_json:
        print_json({"live": live, "ok": not failed, "sources": report})
    else:
        out = console()
        for entry in report:
            status = "[red]problems[/]" if entry["problems"] else "[green]ok[/]"
            out.print(f"{entry['source']} ({entry['kind']}, {entry['mapping']}): {status}")
            for problem in entry["problems"]:
                out.print(f"  - {problem}")
        out.print("live check" if live else "offline check (use --live to connect)")
    ctx.exit(1 if failed else 0)
