"""Running a whole batch: read, skip what is done, shard, execute, report.

:func:`run_batch` is what ``discover batch`` calls. It holds the output directory's
batch lock for the whole run, so that two coordinators never interleave; it checks
the requests file and the sources file before anything is searched (a malformed
row only fails that row; a malformed sources file stops the batch); it skips every
request whose package an earlier run completed and verified; it cuts the rest into
shards and hands them to an executor; and it writes the report.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from connectors import load_mappings
from discover.batch.broker import CelerySettings
from discover.batch.layout import Layout, batch_lock, clean_stale, completed, remove_marker
from discover.batch.report import build_report, write_report
from discover.batch.requests import BatchItem, RequestDefaults, read_requests
from discover.batch.shard import ProgressSink, ShardSpec, outcome, read_summary
from discover.config import read_document
from discover.errors import ExportError
from discover.register import default_register
from discover.sources import load_sources
from exporters.export import needs_client_instruction

Executor = Literal["local", "celery"]
#: Subjects per shard unless told otherwise. Every shard pays a full pass over each
#: table per round whatever its size (on the benchmark estate ~40 s for 1M contacts,
#: 5M call records and a 1M-row inventory), so shards should be large; a shard of
#: 1,000 subjects needed ~0.5 GB there, and a retried shard redoes only its search.
DEFAULT_SHARD_SIZE = 1000
#: Identifiers per query in a batch unless the sources file sets ``chunk_size``
#: itself: each chunk is one pass over a table (within the schema's limit of 10,000).
BATCH_CHUNK_SIZE = 5000


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How to run a batch (the command line's options)."""

    formats: tuple[str, ...] = ("json",)
    defaults: RequestDefaults = field(default_factory=RequestDefaults)
    executor: Executor = "local"
    workers: int = 1
    shard_size: int = DEFAULT_SHARD_SIZE
    retries: int = 3
    backoff: float = 2.0
    force: bool = False
    celery: CelerySettings | None = None
    timeout: float | None = None
    chunk_size: int | None = None
    #: the client's instruction (a reference): required when a row exports client records
    client_instruction: str | None = None


#: rows named when a batch is refused for want of a client instruction
NAMED_ROWS = 5


def check_client_instruction(items: list[BatchItem], instruction: str | None) -> None:
    """Refuse a batch that would export client records without the client's instruction.

    The provider is the clients' processor for those records (Art. 28 GDPR): like
    ``discover export``, a batch puts them out only on the client's instruction, and
    the whole batch is refused before anything is searched or written.
    """
    asking = [
        item for item in items if needs_client_instruction(item.request.controller, instruction)
    ]
    if not asking:
        return
    named = ", ".join(
        f"line {item.line} ({item.request_id}, controller {item.request.controller})"
        for item in asking[:NAMED_ROWS]
    )
    more = f" and {len(asking) - NAMED_ROWS} more" if len(asking) > NAMED_ROWS else ""
    raise ExportError(
        f"{len(asking)} request(s) ask for data the provider processes on behalf of client "
        f"organisations: {named}{more}; give the client's instruction with "
        "--client-instruction REF"
    )


def batch_chunk_size(sources_path: Path, requested: int | None) -> int:
    """The option, else the sources file's own ``settings.chunk_size``, else 5,000."""
    if requested:
        return requested
    document = read_document(sources_path, label=sources_path.name)
    settings = document.get("settings") if isinstance(document, dict) else None
    explicit = settings.get("chunk_size") if isinstance(settings, dict) else None
    return explicit if isinstance(explicit, int) else BATCH_CHUNK_SIZE


def plan_shards(items: list[BatchItem], *, shard_size: int, workers: int) -> list[list[BatchItem]]:
    """Consecutive shards of at most ``shard_size``; at least ``workers`` of them if possible."""
    if not items:
        return []
    size = max(1, min(shard_size, math.ceil(len(items) / max(1, workers))))
    return [items[start : start + size] for start in range(0, len(items), size)]


def batch_identity(items: list[BatchItem]) -> str:
    """Same requests, same id: a digest of every request id and fingerprint."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.request_id}\0{item.fingerprint}\n".encode())
    return digest.hexdigest()[:16]


def _abandoned(line: dict[str, Any]) -> bool:
    from discover.batch.distributed import TIMEOUT_ERROR

    return line["status"] == "failed" and TIMEOUT_ERROR in (line.get("error") or "")


def run_batch(
    requests_path: Path,
    sources_path: Path,
    out: Path,
    options: BatchOptions,
    *,
    progress: ProgressSink | None = None,
    on_start: Any = None,
) -> dict[str, Any]:
    """Run the batch and return its report (also written to ``out/batch-report.json``).

    ``on_start(total_rows)`` is called once the requests file is read, before any
    search (the CLI sizes its progress bars there).
    """
    from exporters import FORMATS

    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown or not options.formats:
        raise ExportError(f"unknown format {unknown!r}; expected some of {', '.join(FORMATS)}")
    started = datetime.now(UTC)
    batch_input = read_requests(
        requests_path, defaults=options.defaults, formats=tuple(options.formats)
    )
    check_client_instruction(batch_input.items, options.client_instruction)
    layout = Layout(out.resolve())
    layout.prepare()
    sink: ProgressSink = progress or (lambda _event: None)
    with batch_lock(layout):
        sources = load_sources(sources_path)
        load_mappings(sources, default_register())  # a malformed mapping stops here
        chunk_size = batch_chunk_size(sources_path, options.chunk_size)
        if on_start is not None:
            on_start(batch_input.rows)
        clean_stale(layout)
        run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        batch_id = batch_identity(batch_input.items)
        lines: list[dict[str, Any]] = []
        pending: list[BatchItem] = []
        for _row in batch_input.invalid:
            sink({"event": "request", "status": "invalid"})
        for item in batch_input.items:
            if options.force:
                remove_marker(layout, item.request_id)
                pending.append(item)
                continue
            done = completed(layout, item.request_id, item.fingerprint)
            if done is None:
                pending.append(item)
                continue
            lines.append(
                outcome(
                    item,
                    -1,
                    "skipped",
                    layout=layout,
                    summary=read_summary(layout, item.request_id),
                    package=done.package,
                    package_sha256=done.package_sha256,
                )
            )
            sink({"event": "request", "status": "skipped"})
        for line in lines:
            line["shard"] = None
        groups = plan_shards(pending, shard_size=options.shard_size, workers=options.workers)
        shards = [
            ShardSpec(
                batch_id=batch_id,
                run_id=run_id,
                index=index,
                sources=str(sources_path.resolve()),
                out=str(layout.root),
                formats=list(options.formats),
                items=[item.to_document() for item in group],
                chunk_size=chunk_size,
                client_instruction=options.client_instruction,
            )
            for index, group in enumerate(groups, start=1)
        ]
        if options.executor == "celery":
            from discover.batch.distributed import run_celery

            lines.extend(
                run_celery(
                    shards,
                    settings=options.celery or CelerySettings.from_env(),
                    retries=options.retries,
                    backoff=options.backoff,
                    progress=sink,
                    timeout=options.timeout,
                )
            )
        else:
            from discover.batch.local import run_local

            lines.extend(
                run_local(
                    shards,
                    workers=options.workers,
                    retries=options.retries,
                    backoff=options.backoff,
                    progress=sink,
                )
            )
        abandoned = options.executor == "celery" and any(_abandoned(line) for line in lines)
        if not abandoned:  # else a worker may still be writing
            clean_stale(layout)
        finished = datetime.now(UTC)
        report = build_report(
            batch_id=batch_id,
            run_id=run_id,
            batch_input=batch_input,
            lines=lines,
            sources_path=str(sources_path),
            layout=layout,
            settings={
                "executor": options.executor,
                "workers": options.workers,
                "shard_size": options.shard_size,
                "shards": len(shards),
                "formats": list(options.formats),
                "retries": options.retries,
                "chunk_size": chunk_size,
            },
            started=started,
            finished=finished,
        )
        write_report(layout, report)
    return report
