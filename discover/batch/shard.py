"""One shard of a batch: search many subjects at once, then write their cases and packages.

This is the unit of work of every executor: the local one calls :func:`run_shard`
in-process or in a process pool, a Celery worker calls it from its task. A shard is
plain JSON (:class:`ShardSpec`) so that it can travel to another machine; the
sources file and the output directory are paths every worker can reach.

The search is :func:`discover.engine.search_many`: each source is scanned once per
round for the union of the shard's identifiers, and every subject gets exactly what
a search of its own would have found. Writing is idempotent: requests that a
previous (killed, retried or redelivered) execution finished are not searched again,
each request is written under a lock, the case is rewritten in place and the package
replaced atomically, and the marker that says "done" is written last.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from connectors import load_mappings
from connectors.base import Connector, ScanResult
from discover.batch.layout import (
    Layout,
    completed,
    read_marker,
    remove_marker,
    remove_package,
    request_lock,
    write_marker,
)
from discover.batch.requests import BatchItem
from discover.case import write_case
from discover.engine import SearchResult, open_connectors, search_many
from discover.errors import DiscoverError
from discover.identifiers import Identifier
from discover.register import default_register
from discover.request import Request
from discover.sources import load_sources
from exporters import export_package
from exporters.package import MANIFEST, sha256_file

log = logging.getLogger(__name__)

#: Threads writing cases and packages at once (their time goes mostly to fsync).
WRITERS = 4

#: Receives progress events (plain dicts, see :func:`run_shard`).
ProgressSink = Callable[[dict[str, Any]], None]


class TransientShardFailure(DiscoverError):
    """A source failed with an error that may go away; the shard should be retried."""

    def __init__(self, message: str, failures: dict[str, str] | None = None) -> None:
        # One positional text argument, so that Celery can rebuild it from JSON.
        self.failures = failures or {}
        super().__init__(message)

    @classmethod
    def of(cls, shard: int, failures: dict[str, str]) -> TransientShardFailure:
        names = ", ".join(sorted(failures))
        return cls(f"shard {shard}: transient failure of {names}", failures)


@dataclass(slots=True)
class ShardSpec:
    """Everything a worker needs to run one shard; JSON-serialisable."""

    batch_id: str
    run_id: str
    index: int
    sources: str
    out: str
    formats: list[str]
    items: list[dict[str, Any]] = field(default_factory=list)
    #: identifiers per query (the sources file's chunk_size unless set): a batch scans
    #: a table once per chunk, so larger chunks mean fewer passes
    chunk_size: int | None = None
    #: the client's instruction for rows exporting client records (kept in the export log)
    client_instruction: str | None = None

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ShardSpec:
        return cls(**document)


def outcome(
    item: BatchItem | dict[str, Any],
    shard: int,
    status: str,
    *,
    error: str | None = None,
    layout: Layout | None = None,
    summary: dict[str, Any] | None = None,
    package: Path | None = None,
    package_sha256: str | None = None,
) -> dict[str, Any]:
    """One request's line in the batch report (plain JSON)."""
    if isinstance(item, BatchItem):
        line, request_id = item.line, item.request_id
    else:
        line, request_id = item["line"], item["request"].get("request_id")
    document: dict[str, Any] = {
        "line": line,
        "request_id": request_id,
        "shard": shard,
        "status": status,
        "hits": {},
        "hits_total": 0,
        "failed_sources": {},
        "case": None,
        "package": None,
        "package_sha256": package_sha256,
        "error": error,
    }
    if layout is not None and request_id:
        case = layout.case(request_id)
        if (case / "summary.json").is_file():
            document["case"] = layout.relative(case)
    if summary is not None:
        document["hits"] = {s["name"]: s.get("hits", 0) for s in summary.get("sources", [])}
        document["hits_total"] = summary.get("totals", {}).get("hits", 0)
        document["failed_sources"] = {
            s["name"]: s.get("error") or "failed"
            for s in summary.get("sources", [])
            if s.get("status") == "failed"
        }
    if package is not None and layout is not None:
        document["package"] = layout.relative(package)
    return document


def read_summary(layout: Layout, request_id: str) -> dict[str, Any] | None:
    try:
        return json.loads((layout.case(request_id) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rejected_reasons(request: Request) -> list[str]:
    """A row's identifiers that could not be read, as its report line names them."""
    return [f"rejected {r.describe()}" for r in request.rejected]


def search_gaps(summary: dict[str, Any]) -> list[str]:
    """Why a written case's search is incomplete: its failed and truncated sources.

    Read from the case summary rather than the search result, so that the report line
    of a request can be rebuilt from the output directory alone (see
    :mod:`discover.batch.salvage`) and says the same as when it was written.
    """
    sources = summary.get("sources", [])
    failed = [f"{s['name']}: {s.get('error')}" for s in sources if s.get("status") == "failed"]
    truncated = [f"{s['name']}: results truncated" for s in sources if s.get("truncated")]
    return failed + truncated


class CountingConnector:
    """A connector seen through a window that reports every scan as a progress event."""

    def __init__(self, inner: Connector, shard: int, sink: ProgressSink | None) -> None:
        self.inner = inner
        self.shard = shard
        self.sink = sink

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def kind(self) -> str:
        return self.inner.kind

    @property
    def source(self) -> Any:
        """The inner connector's source (its client names the controller in packages)."""
        return self.inner.source

    def identifier_types(self) -> frozenset[str]:
        return self.inner.identifier_types()

    def check(self) -> None:
        self.inner.check()

    def check_mapping(self) -> list[str]:
        return self.inner.check_mapping()

    def begin_search(self) -> None:
        self.inner.begin_search()

    def close(self) -> None:
        self.inner.close()

    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        started = time.perf_counter()
        event: dict[str, Any] = {
            "event": "scan",
            "shard": self.shard,
            "source": self.name,
            "identifiers": len(identifiers),
        }
        if self.sink:
            self.sink({**event, "event": "scan_started"})
        try:
            result = self.inner.scan(identifiers)
        except Exception:
            event.update(ok=False, records=0, rows=0, seconds=time.perf_counter() - started)
            if self.sink:
                self.sink(event)
            raise
        event.update(
            ok=True,
            records=len(result.records),
            rows=result.rows_read,
            seconds=time.perf_counter() - started,
        )
        if self.sink:
            self.sink(event)
        return result


def one_at_a_time(sink: ProgressSink | None) -> ProgressSink | None:
    """``sink`` called by one thread at a time: the engine scans sources side by side,
    and a sink counts and publishes (a Celery task's state) without locks of its own."""
    if sink is None:
        return None
    lock = threading.Lock()

    def serialised(event: dict[str, Any]) -> None:
        with lock:
            sink(event)

    return serialised


def _search(
    spec: ShardSpec, items: list[BatchItem], sink: ProgressSink | None
) -> list[SearchResult]:
    sources = load_sources(Path(spec.sources))
    if spec.chunk_size:
        settings = replace(sources.settings, chunk_size=spec.chunk_size)
        sources = replace(sources, settings=settings)
    register = default_register()
    mappings = load_mappings(sources, register)
    sink = one_at_a_time(sink)  # the sources of a round report from their own threads
    connectors = [
        CountingConnector(connector, spec.index, sink)
        for connector in open_connectors(sources, mappings, register)
    ]
    try:
        return search_many(
            [item.request for item in items],
            sources,
            register=register,
            connectors=cast(list[Connector], connectors),
        )
    finally:
        for connector in connectors:
            connector.close()


def _write(
    layout: Layout, spec: ShardSpec, item: BatchItem, result: SearchResult
) -> dict[str, Any]:
    request = item.request
    rid = request.request_id
    with request_lock(layout, rid):
        done = completed(layout, rid, item.fingerprint)
        if done is not None:  # another delivery of this shard finished it meanwhile
            return outcome(
                item,
                spec.index,
                "done",
                layout=layout,
                summary=read_summary(layout, rid),
                package=done.package,
                package_sha256=done.package_sha256,
            )
        previous = read_marker(layout, rid)
        remove_marker(layout, rid)
        summary = write_case(result, layout.case(rid), force=True)
        # an identifier the row gave that could not be read: the others were searched,
        # the package is written and names it, and the row stays incomplete
        rejected = rejected_reasons(request)
        gaps = search_gaps(summary)
        if gaps:
            # A package from an earlier, different request of this id no longer fits.
            if previous and previous.get("package"):
                remove_package(layout.root / previous["package"])
            return outcome(
                item,
                spec.index,
                "incomplete",
                error="; ".join(rejected + gaps),
                layout=layout,
                summary=summary,
            )
        package = export_package(
            layout.case(rid),
            kind=request.kind,
            formats=spec.formats,
            language=request.language,
            out=layout.packages,
            controller=request.controller,
            force=True,
            client_instruction=spec.client_instruction,
            # a batch has no review step: undecided matches stay out, the export log
            # counts them (README, Known limits)
            allow_undecided=True,
        ).path
        checksum = sha256_file(package / MANIFEST)
        # a row with a rejected identifier is never marked done: a rerun reports it again
        if not request.rejected:
            write_marker(
                layout,
                rid,
                {
                    "request_id": rid,
                    "fingerprint": item.fingerprint,
                    "batch_id": spec.batch_id,
                    "run_id": spec.run_id,
                    "shard": spec.index,
                    "package": layout.relative(package),
                    "package_sha256": checksum,
                    "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
    return outcome(
        item,
        spec.index,
        "incomplete" if request.rejected else "done",
        error="; ".join(rejected) or None,
        layout=layout,
        summary=summary,
        package=package,
        package_sha256=checksum,
    )


def run_shard(
    spec: ShardSpec, *, final_attempt: bool = True, progress: ProgressSink | None = None
) -> list[dict[str, Any]]:
    """Search and write one shard; returns one report line per request, in order.

    Progress events (dicts with an ``event`` key): ``scan_started`` and ``scan``
    (per source scan: identifiers, records, rows, seconds, ok) and ``request`` (one
    request finished: its line in the requests file and its status; a shard that
    breaks off later keeps the requests it finished, see :mod:`discover.batch.salvage`).
    With ``final_attempt=False`` a transient source failure raises
    :class:`TransientShardFailure` before anything is written, so the caller can retry
    the shard; on the final attempt the failure is written down and the requests are
    reported ``incomplete``.
    """
    layout = Layout(Path(spec.out))
    layout.prepare()
    results: dict[int, dict[str, Any]] = {}
    items: list[BatchItem] = []
    for document in spec.items:
        try:
            item = BatchItem.from_document(document)
        except DiscoverError as exc:
            results[document["line"]] = outcome(document, spec.index, "failed", error=str(exc))
            continue
        done = completed(layout, item.request_id, item.fingerprint)
        if done is None:
            items.append(item)
            continue
        status = "done" if done.run_id == spec.run_id else "skipped"
        results[item.line] = outcome(
            item,
            spec.index,
            status,
            layout=layout,
            summary=read_summary(layout, item.request_id),
            package=done.package,
            package_sha256=done.package_sha256,
        )

    def announce(line: dict[str, Any]) -> None:
        if progress:
            progress(
                {
                    "event": "request",
                    "shard": spec.index,
                    "line": line["line"],
                    "status": line["status"],
                }
            )

    def report(line: dict[str, Any]) -> None:
        results[line["line"]] = line
        announce(line)

    for line in results.values():
        announce(line)
    if items:
        try:
            searched = _search(spec, items, progress)
        except DiscoverError as exc:
            for item in items:
                report(outcome(item, spec.index, "failed", error=str(exc), layout=layout))
            searched = []
        except Exception as exc:  # a bug must not take the other shards down
            log.exception("shard %d: search failed", spec.index)
            for item in items:
                error = f"internal error: {type(exc).__name__}: {exc}"
                report(outcome(item, spec.index, "failed", error=error, layout=layout))
            searched = []
        if searched:
            transient = {
                s.name: s.error or "failed" for s in searched[0].sources if s.failed and s.transient
            }
            if transient and not final_attempt:
                raise TransientShardFailure.of(spec.index, transient)
        pairs = list(zip(items if searched else [], searched, strict=True))
        # Writing is mostly waiting for fsync; a few threads overlap the waits.
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="batch-write") as pool:
            for line in pool.map(lambda pair: _write_safely(layout, spec, *pair), pairs):
                report(line)
    return [results[line] for line in sorted(results)]


def _write_safely(
    layout: Layout, spec: ShardSpec, item: BatchItem, result: SearchResult
) -> dict[str, Any]:
    """One request's case and package; a failure is that request's line, not the shard's."""
    try:
        return _write(layout, spec, item, result)
    except DiscoverError as exc:
        return outcome(item, spec.index, "failed", error=str(exc), layout=layout)
    except OSError as exc:
        return outcome(item, spec.index, "failed", error=f"cannot write: {exc}", layout=layout)


def backoff_seconds(attempt: int, base: float) -> float:
    """Exponential backoff: base, 2·base, 4·base … capped at five minutes."""
    return min(base * (2**attempt), 300.0)


def run_shard_with_retries(
    spec: ShardSpec,
    *,
    retries: int,
    backoff: float,
    progress: ProgressSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Run a shard, retrying transient source failures with exponential backoff."""
    attempt = 0
    while True:
        try:
            return run_shard(spec, final_attempt=attempt >= retries, progress=progress)
        except TransientShardFailure as exc:
            delay = backoff_seconds(attempt, backoff)
            log.warning("%s; retrying in %.1f s", exc, delay)
            if progress:
                progress({"event": "retry", "shard": spec.index, "delay": delay})
            sleep(delay)
            attempt += 1
