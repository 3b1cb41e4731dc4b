"""``discover search``: one subject through every source into a case directory."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from discover.cli import collector, ending
from discover.cli.options import DirPath, kind_option, language_option, sources_option
from discover.cli.output import console, console_err, escape, print_json, print_summary
from discover.errors import ConfigError, InvalidIdentifier, kind_label
from discover.identifiers import IDENTIFIER_TYPES, WEAK_TYPES, Identifier

if TYPE_CHECKING:
    from collections.abc import Callable

    from discover.engine import SearchResult
    from discover.request import Request
    from discover.sources import SourcesConfig

#: command-line flag -> identifier type
IDENTIFIER_FLAGS = {kind: kind for kind in IDENTIFIER_TYPES}

_EXAMPLES = {
    "email": "jan.devries@example.nl",
    "phone": "06-12345678",
    "mac": "00:15:65:ab:cd:ef",
    "imei": "352099001761481",
    "iccid": "8931041012345678902",
    "imsi": "204041234567890",
    "ip": "192.0.2.10",
    "postcode": "2289 BA",
    "name": "'Jan de Vries'",
    "username": "jdevries",
    "account": "CUST-0042",
    "extension": "acme/201",
}


def identifier_options(function: click.decorators.FC) -> click.decorators.FC:
    """Add one repeatable ``--<type>`` option per identifier type."""
    for kind in reversed(IDENTIFIER_TYPES):
        label = kind_label(kind)
        weak = " Weak: its matches are only possible." if kind in WEAK_TYPES else ""
        function = click.option(
            f"--{kind}",
            f"id_{kind}",
            multiple=True,
            metavar="VALUE",
            help=f"The subject's {label}, e.g. {_EXAMPLES[kind]} (repeatable).{weak}",
        )(function)
    return function


_DETAIL_OPTIONS = {
    "request_id": "--request-id",
    "kind": "--kind",
    "language": "--lang",
    "client": "--client",
}


def request_from_options(
    request_file: Path | None,
    identifiers: list[tuple[str, str]],
    *,
    strict: bool = False,
    **fields: object,
) -> Request:
    """A request from --request FILE or from command-line identifiers (not both).

    A malformed identifier is rejected and the others searched; with ``strict``, or
    when none is usable, the request is refused. Errors name the option:
    ``command line: --imei: IMEI 352099001761480: check digit should be 1``.
    """
    # Requests bring JSON Schema and YAML: loaded when a request is built, not for --help.
    from discover.request import build_request, check_request_id, load_request

    given = {name: value for name, value in fields.items() if value is not None}
    if request_file is not None:
        if identifiers:
            raise ConfigError(
                "command line",
                "--request",
                "give identifiers in the request file or as options, not both",
            )
        if given:
            options = ", ".join(_DETAIL_OPTIONS.get(name, name) for name in given)
            raise ConfigError(
                "command line",
                "--request",
                f"the request file sets the request's details; leave out {options}",
            )
        return load_request(request_file, strict=strict)
    if not identifiers:
        raise ConfigError(
            "command line",
            "identifiers",
            "give at least one identifier (--email, --phone …) or --request FILE",
        )
    if strict:
        for kind, raw in identifiers:
            try:
                Identifier.parse(kind, raw)
            except InvalidIdentifier as exc:
                raise ConfigError("command line", f"--{kind}", str(exc)) from None
    request_id = given.get("request_id")
    if isinstance(request_id, str):
        check_request_id(request_id, file="command line", where="--request-id")
    return build_request(
        identifiers,
        strict=strict,
        places=[f"--{kind}" for kind, _raw in identifiers],
        file="command line",
        **given,  # type: ignore[arg-type]
    )


def print_identifier_notes(summary: dict[str, Any]) -> None:
    """The console lines on identifiers: rejected from the request, stopped in the
    search (organisation or shared), and stored values that could not be read."""
    out = console()
    for rejected in summary.get("rejected_identifiers", []):
        out.print(
            f"[bold red]rejected[/] {escape(rejected['place'])}: {escape(rejected['reason'])}; "
            "searched without it (the case is incomplete)"
        )
    for stopped in summary.get("stopped_identifiers", []):
        out.print(
            f"[yellow]stopped[/] {escape(stopped['identifier'])} ({escape(stopped['kind'])}): "
            f"{escape(stopped['reason'])}"
        )
    unreadable = summary.get("unreadable_values") or 0
    if unreadable:
        out.print(f"[yellow]{unreadable} stored identifier value(s) unreadable[/] (see warnings)")


def _search_with_status(
    request: Request, sources: SourcesConfig, run_search: Callable[..., SearchResult]
) -> SearchResult:
    """The search with a status line on the terminal, shown from its first scan on.

    The status line is drawn by a thread of its own, so it starts once the sources are
    open (``ready``): a search forks a child to list a provisioning directory while
    the sources open (:mod:`connectors.voip.ahead`), and forks only while the process
    runs no other thread.
    """
    with ExitStack() as stack:
        shown: list[Any] = []

        def ready() -> None:
            collector.settle()
            shown.append(stack.enter_context(console_err().status("searching …")))

        def progress(name: str, number: int, total: int) -> None:
            if shown:
                shown[0].update(f"searching {escape(name)} ({number}/{total}) …")

        return run_search(request, sources, progress=progress, ready=ready)


@click.command()
@sources_option
@identifier_options
@click.option(
    "--request",
    "request_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Request file (JSON) instead of identifier options.",
)
@click.option("--request-id", help="Request id (default: generated).")
@kind_option(None, "Kind of request.")
@language_option(None, "Language of the package.")
@click.option("--client", help="The subject's employer (client organisation), named in packages.")
@click.option(
    "--case",
    "case_dir",
    required=True,
    type=DirPath(),
    help="Case directory to write.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing case in --case as a whole (its decisions and packages go with it).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse the request when one identifier is malformed (default: search with the "
    "others, name it, exit 1).",
)
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
    strict: bool,
    as_json: bool,
    **options: tuple[str, ...],
) -> None:
    """Search every source for one subject and write a case directory.

    Give the subject's identifiers as options (each repeatable) or a request file:

    \b
      discover search --sources sources.yaml --email jan@example.nl \\
          --phone 06-12345678 --case cases/REQ-1
      discover search --sources sources.yaml --request request.json --case cases/REQ-1

    The case holds request.json, hits.parquet and summary.json; a summary per source
    and category is printed (--json: the summary as JSON, nothing else on stdout).

    A malformed identifier is named and left out, the others are searched (exit 1);
    --strict refuses the request instead.

    Exit codes: 0 every source searched; 1 a source failed or was cut short (the
    others were still searched, the case says which), or an identifier was rejected;
    2 bad input (sources file, mapping, request, no usable identifier, existing
    case); 3 internal error.
    """
    # What loads from here until the first scan (the engine, polars, SQLAlchemy,
    # the sources and mappings) stays until the exit: the collector waits for it, in the
    # console script only (see discover.cli.collector).
    collector.pause()
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
        strict=strict,
    )
    # The engine and the case writer load here, not for --help or a usage error (pyarrow,
    # which builds and writes the hits, loads during the scans: discover.engine.load_hits_ahead).
    from discover.case import check_case_target, write_case
    from discover.engine import search as run_search
    from discover.sources import load_sources

    check_case_target(case_dir, force=force)
    # The engine loads and checks every mapping before it opens any source.
    sources = load_sources(sources_file)
    if as_json:
        result = run_search(request, sources, ready=collector.settle)
    else:
        result = _search_with_status(request, sources, run_search)
    summary = write_case(result, case_dir, force=force)
    from discover.desk.hooks import searched  # the register, when it knows the request

    searched(request.request_id, case_dir, summary)
    if as_json:
        print_json({**summary, "case": str(case_dir)})
    else:
        print_summary(summary, case_path=str(case_dir))
        print_identifier_notes(summary)
    ending.outputs_closed()  # the case is written and closed: no teardown needed
    ctx.exit(0 if summary["complete"] else 1)
