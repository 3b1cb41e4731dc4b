"""``discover scan``: which places of each source hold personal data, and which are unmapped."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from discover.cli.output import console, print_json

EXIT_OK, EXIT_UNMAPPED, EXIT_MALFORMED = 0, 1, 2


@click.command()
@click.option(
    "--sources",
    "sources_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sources file: scan every source it names.",
)
@click.option("--source", "only", metavar="NAME", help="Scan only the source of this name.")
@click.option(
    "--sample",
    "rows",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Values sampled per table, sheet, entry kind or key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def scan(
    ctx: click.Context, sources_file: Path, only: str | None, rows: int, as_json: bool
) -> None:
    """Find personal data in every source by its content, and what the mappings miss.

    \b
      discover scan --sources sources.yaml
      discover scan --sources sources.yaml --source crm --sample 500 --json

    Samples every table and column, directory attribute, spreadsheet header and
    provisioning key; recognises e-mail addresses, phone numbers, IMEI/IMSI/ICCID
    (check digits), MAC and IP addresses, postcodes, IBANs and BSNs (eleven-test,
    flagged special) by their values, names by their headers; shows masked examples,
    whether the source's mapping maps each place, and a coverage figure per source.
    Mapped places whose values do not fit their declared identifier type are warned.

    Exit codes: 0 every personal-data place is mapped; 1 some are not, or a source
    could not be read; 2 the sources file or a mapping is malformed.
    """
    from discover.discovery.scan import scan as run_scan
    from discover.sources import load_sources

    sources = load_sources(sources_file, mappings_exist=False)  # a new source has none yet
    results = run_scan(sources, only=only, rows=rows)
    unmapped = sum(len(r.unmapped) for r in results)
    failed = [r for r in results if r.error]
    if as_json:
        print_json(
            {
                "ok": not unmapped and not failed,
                "sample": rows,
                "unmapped": unmapped,
                "sources": [r.as_dict() for r in results],
            }
        )
    else:
        _print(results)
    if any(r.malformed for r in results):
        ctx.exit(EXIT_MALFORMED)
    ctx.exit(EXIT_UNMAPPED if unmapped or failed else EXIT_OK)


def _print(results: list) -> None:
    out = console()
    for result in results:
        head = f"[bold]{escape(result.name)}[/] ({result.kind})"
        if result.error:
            out.print(f"{head}: [bold red]not scanned[/] - {escape(result.error)}")
            continue
        coverage = "-" if result.coverage is None else f"{result.coverage:.0%}"
        out.print(
            f"{head}: {result.places} places, {len(result.personal)} with personal data, "
            f"mapping covers {coverage}"
        )
        if not result.findings:
            continue
        table = Table(show_header=True, header_style="bold")
        for column in ("place", "holds", "confidence", "examples", "mapped"):
            table.add_column(column)
        for finding in result.findings:
            found = finding.detection
            holds = "-" if found is None else found.type + (" (special)" if found.special else "")
            mapped = "[green]yes[/]" if finding.mapped else "[bold red]NO[/]"
            if finding.mapped_as:
                mapped += f" as {finding.mapped_as}"
            table.add_row(
                escape(f"{finding.location} {finding.field}"),
                holds,
                "-" if found is None else f"{found.confidence:.0%} by {found.by}",
                escape(", ".join(found.examples) if found else ""),
                mapped,
            )
        out.print(table)
        for finding in result.findings:
            if finding.warning:
                out.print(f"  [yellow]warning:[/] {escape(finding.warning)}")
