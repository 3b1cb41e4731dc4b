"""``discover register check``: where the processing register and the privacy statement part.

The register is transcribed from the privacy statement and may not invent: every
category the statement does not mention (``in_statement: false``), every item the
statement is silent on for a category (purposes, recipients, transfers) and every
recipient it does not name is listed, so that privacy staff can have the statement
updated. Packages say "not stated in our privacy statement" for the same gaps.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from discover.cli.output import console, print_json
from discover.register import load_register

EXIT_OK, EXIT_GAPS = 0, 1


@click.group()
def register() -> None:
    """Work with the processing register (mappings/register.yaml)."""


@register.command()
@click.option(
    "--register",
    "register_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="A register file to check (default: the shipped mappings/register.yaml).",
)
@click.option("--json", "as_json", is_flag=True, help="The gaps as JSON on stdout.")
@click.pass_context
def check(ctx: click.Context, register_file: Path | None, as_json: bool) -> None:
    """List every gap between the register and the privacy statement.

    Exit codes: 0 no gaps; 1 gaps found (listed); 2 a malformed register.
    """
    loaded = load_register(register_file)
    gaps = loaded.statement_gaps()
    if as_json:
        print_json({"register": loaded.source, "gaps": gaps})
    else:
        out = console()
        for gap in gaps:
            out.print(f"{escape(gap['category'])}: {escape(gap['text'])}", highlight=False)
        missing = sorted({g["category"] for g in gaps if g["kind"] == "category"})
        out.print(
            f"{len(gaps)} gap(s) in {loaded.source}; categories not in the statement: "
            f"{escape(', '.join(missing)) or 'none'}",
            highlight=False,
        )
    ctx.exit(EXIT_GAPS if gaps else EXIT_OK)
