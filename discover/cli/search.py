"""``discover search``: one subject through every source into a case directory."""

from __future__ import annotations

from pathlib import Path

import click

from discover.case import write_case
from discover.cli.output import console_err, print_json, print_summary
from discover.engine import search as run_search
from discover.errors import ConfigError
from discover.identifiers import IDENTIFIER_TYPES
from discover.request import Request, build_request, load_request
from discover.sources import load_sources

#: command-line flag -> identifier type
IDENTIFIER_FLAGS = {kind: kind for kind in IDENTIFIER_TYPES}


def identifier_options(function: click.decorators.FC) -> click.decorators.FC:
    """Add one repeatable ``--<type>`` option per identifier type."""
    for kind in reversed(IDENTIFIER_TYPES):
        function = click.option(
            f"--{kind}",
            f"id_{kind}",
            multiple=True,
            metavar="VALUE",
            help=f"The subject's {kind} (repeatable).",
        )(function)
    return function


def request_from_options(
    request_file: Path | None, identifiers: list[tuple[str, str]], **fields: object
) -> Request:
    """A request from --request FILE, command-line identifiers, or both."""
    if request_file is not None:
        request = load_request(request_file)
        if identifiers:
            raise ConfigError(
                "command line",
                "--request",
                "give identifiers in the request file or as options, not both",
            )
        return request
    if not identifiers:
        raise ConfigError(
            "command line",
            "identifiers",
            "give at least one identifier (--email, --phone …) or --request FILE",
        )
    return build_request(identifiers, **{k: v for k, v in fields.items() if v is not None})


@click.command()
@click.option(
    "--sources",
    "sources_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sources file (YAML).",
)
@identifier_options
@click.option(
    "--request",
    "request_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Request file (JSON) instead of identifier options.",
)
@click.option("--request-id", help="Request id (default: generated).")
@click.option(
    "--kind", type=click.Choice(["access", "portability"]), default=None, help="Kind of request."
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(["nl", "en"]),
    default=None,
    help="Language of the package.",
)
@click.option("--client", help="The subject's employer (client organisation), named in packages.")
@click.option(
    "--case",
    "case_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Case directory to write.",
)
@click.option("--force", is_flag=True, help="Replace an existing case in --case.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def search(
    ctx: click.Context,
    sources_file: Path,
    request_file: Path | None,
    request_id: str | None,
    kind: str | None,
    language: str | None,
    client: str | None,
    case_dir: Path,
    force: bool,
    as_json: bool,
    **options: tuple[str, ...],
) -> None:
    """Search every source for one subject and write a case directory.

    The case holds request.json, hits.parquet and summary.json. Exit code 1 when a
    source failed (the case says which), 2 on bad input.
    """
    identifiers = [
        (name.removeprefix("id_"), value) for name, values in options.items() for value in values
    ]
    request = request_from_options(
        request_file,
        identifiers,
        request_id=request_id,
        kind=kind,
        language=language,
        client=client,
    )
    sources = load_sources(sources_file)
    if as_json:
        result = run_search(request, sources)
    else:
        with console_err().status("searching …") as status:
            result = run_search(
                request,
                sources,
                progress=lambda name, n, total: status.update(f"searching {name} ({n}/{total}) …"),
            )
    summary = write_case(result, case_dir, force=force)
    if as_json:
        print_json({**summary, "case": str(case_dir)})
    else:
        print_summary(summary, case_path=str(case_dir))
    ctx.exit(0 if summary["complete"] else 1)
