"""``discover batch``: many subjects, one case and one package each, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from discover.cli.options import (
    DirPath,
    controller_option,
    kind_option,
    language_option,
    parse_formats,
    sources_option,
)
from discover.cli.output import console, console_err, print_json


@click.command()
@click.argument("requests_file", type=click.Path(path_type=Path, dir_okay=False))
@sources_option
@click.option(
    "--out",
    required=True,
    type=DirPath(),
    help="Output directory: cases/, packages/ and batch-report.json.",
)
@kind_option("access", "Kind for rows that do not give one.")
@click.option(
    "--format",
    "formats",
    default="json",
    show_default=True,
    callback=parse_formats,
    help="Package formats, comma-separated.",
)
@language_option("nl", "Language for rows that do not give one.")
@controller_option(
    "Controller scope for rows that do not give one. provider: the provider's own data "
    "and a section per client organisation naming it as controller; client or all (here "
    "or in a row) also put out the data processed for clients: needs --client-instruction."
)
@click.option(
    "--client-instruction",
    metavar="REF",
    default=None,
    help="The client's instruction to answer for its data (a reference, kept in each "
    "package's export log).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "celery"]),
    default="local",
    show_default=True,
    help="Run shards here, or on Celery workers.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local: processes running shards at once. Celery: at least this many shards.",
)
@click.option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=None,
    help="Subjects per shard (default 1000). Each shard is one pass per source per round.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1, max=10_000),
    default=None,
    help="Identifiers per query (default: the sources file's settings.chunk_size if it "
    "sets one, else 5000). Each chunk is one pass over a table.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Retries of a shard whose source failed transiently.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds before the first retry; doubled for each further one.",
)
@click.option("--force", is_flag=True, help="Redo every request, even those already complete.")
@click.option(
    "--strict",
    is_flag=True,
    help="A malformed identifier makes its row invalid (default: the row is searched with "
    "its other identifiers and reported incomplete, naming it).",
)
@click.option(
    "--broker",
    envvar="DISCOVER_BROKER_URL",
    default=None,
    help="Celery broker URL [env DISCOVER_BROKER_URL; default redis://127.0.0.1:6379/0].",
)
@click.option(
    "--queue",
    envvar="DISCOVER_QUEUE",
    default=None,
    help="Celery queue [env DISCOVER_QUEUE; default discover-batch].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Celery: give up on shards without a result after this many seconds.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars on stderr.")
@click.option("--problems-only", is_flag=True, help="Print only requests that are not complete.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.pass_context
def batch(
    ctx: click.Context,
    requests_file: Path,
    sources_file: Path,
    out: Path,
    kind: str,
    formats: tuple[str, ...],
    language: str,
    controller: str,
    client_instruction: str | None,
    executor: str,
    workers: int,
    shard_size: int | None,
    chunk_size: int | None,
    retries: int,
    backoff: float,
    force: bool,
    strict: bool,
    broker: str | None,
    queue: str | None,
    timeout: float | None,
    no_progress: bool,
    problems_only: bool,
    as_json: bool,
) -> None:
    """Search and export many subjects: one case and one package per request.

    REQUESTS_FILE is CSV (a header, one request per row; identifier columns email,
    phone, name, imei, iccid, imsi, mac, ip, postcode, username, account, extension,
    several values separated by ';'; optional request_id, kind, language, controller,
    received, client, subject_name, note) or JSON Lines (one request document per
    line). Each source is scanned once per round for a whole shard of subjects.
    Rerunning skips requests whose packages are complete and verified.

    Client records (controller client or all, by default or in a row) go out only
    with --client-instruction REF, recorded in each package's export log; without it
    such a batch is refused before anything runs (exit 2).

    A malformed identifier in a row is named and left out, the row searched with the
    others and reported incomplete; --strict makes such a row invalid.

    Exit code 0 when every request is complete, 1 when one is incomplete or failed
    (or had an identifier rejected), 2 when a row is invalid (no usable identifier),
    the input cannot be read or a client instruction is missing.
    """
    # The batch machinery (engine, exporters, their data libraries) loads here, not for
    # --help or a usage error.
    from discover.batch import BatchOptions, RequestDefaults, run_batch
    from discover.batch.broker import CelerySettings
    from discover.batch.progress import BatchProgress
    from discover.batch.runner import DEFAULT_SHARD_SIZE

    settings = CelerySettings.from_env()
    if broker or queue:
        settings = CelerySettings(
            broker=broker or settings.broker,
            backend=settings.backend,
            queue=queue or settings.queue,
            prefix=settings.prefix,
            visibility_timeout=settings.visibility_timeout,
        )
    options = BatchOptions(
        formats=formats,
        defaults=RequestDefaults(
            kind=kind, language=language, controller=controller, strict=strict
        ),
        executor=executor,  # type: ignore[arg-type]
        workers=workers,
        shard_size=shard_size or DEFAULT_SHARD_SIZE,
        retries=retries,
        backoff=backoff,
        force=force,
        celery=settings,
        timeout=timeout,
        chunk_size=chunk_size,
        client_instruction=client_instruction,
    )
    display: dict[str, Any] = {}

    def start(total: int) -> None:
        bars = BatchProgress(total, console=console_err(), enabled=not no_progress)
        display["bars"] = bars
        bars.__enter__()

    def progress(event: dict[str, Any]) -> None:
        if "bars" in display:
            display["bars"](event)

    try:
        report = run_batch(
            requests_file, sources_file, out, options, progress=progress, on_start=start
        )
    finally:
        if "bars" in display:
            display["bars"].__exit__(None, None, None)
    if as_json:
        print_json(report)
    else:
        _print_report(report, problems_only=problems_only)
    totals = report["totals"]
    if totals.get("invalid"):
        ctx.exit(2)
    ctx.exit(0 if totals["complete"] == totals["requests"] else 1)


#: a batch of more requests than this prints its totals and failures, not every request
TABLE_LIMIT = 20


def _print_report(report: dict[str, Any], *, problems_only: bool) -> None:
    """A table of every request for a small batch; for a larger one the counts, the
    first requests that are not complete and where the full report is."""
    from discover.batch.report import COMPLETE, report_table, totals_text

    lines = report["requests"]
    if len(lines) <= TABLE_LIMIT:
        console().print(report_table(report, problems_only=problems_only))
        console().print(totals_text(report))
        return
    problems = [line for line in lines if line["status"] not in COMPLETE]
    out = console()
    for line in problems[:TABLE_LIMIT]:
        request = line.get("request_id") or "-"
        text = f"line {line['line']} {request}: {line['status']}"
        out.print(f"{text}: {line['error']}" if line.get("error") else text, markup=False)
    if len(problems) > TABLE_LIMIT:
        out.print(f"… and {len(problems) - TABLE_LIMIT} more not complete (see the report)")
    out.print(totals_text(report), markup=False)
