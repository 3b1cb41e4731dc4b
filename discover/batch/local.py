"""The local executor: shards on this machine, one after the other or in processes.

With one worker the shards run in this process, one after another. With more, each
shard runs in a process of a pool (``spawn``: a clean interpreter, no inherited
connections); their progress events travel back through a queue. A shard that
raises, or whose process dies, keeps the requests it had finished (their packages
are there: :mod:`discover.batch.salvage`) and reports the rest as failed; the other
shards go on, and a rerun of the batch skips the finished requests and picks the
failed ones up again. Workers stop when the process that started them dies
(:mod:`discover.batch.orphans`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from discover.batch.orphans import stop_with_parent
from discover.batch.salvage import ended_shard_lines, progress_correction
from discover.batch.shard import ProgressSink, ShardSpec, run_shard_with_retries

log = logging.getLogger(__name__)

_EVENTS: Any = None


def _init_worker(events: Any, parent: int) -> None:
    global _EVENTS
    _EVENTS = events
    stop_with_parent(parent)


def _send(event: dict[str, Any]) -> None:
    if _EVENTS is not None:
        _EVENTS.put(event)


def _pool_shard(document: dict[str, Any], retries: int, backoff: float) -> list[dict[str, Any]]:
    spec = ShardSpec.from_document(document)
    return run_shard_with_retries(spec, retries=retries, backoff=backoff, progress=_send)


class _Shards:
    """The progress sink of the shards: hands events on and remembers, per shard, the
    requests it finished and those counted, so that a shard that ends without its
    report keeps what it finished and is counted once."""

    def __init__(self, progress: ProgressSink | None) -> None:
        self.progress = progress
        self.finished: dict[int, dict[int, str]] = {}
        self.counted: dict[int, Counter[str]] = {}
        self.ended: set[int] = set()

    def __call__(self, event: dict[str, Any]) -> None:
        shard = event.get("shard")
        if event.get("event") == "request" and shard is not None:
            if shard in self.ended:  # came in after the shard's lines were settled
                return
            self.counted.setdefault(shard, Counter())[event["status"]] += 1
            if "line" in event:
                self.finished.setdefault(shard, {})[event["line"]] = event["status"]
        if self.progress:
            self.progress(event)

    def failed(self, spec: ShardSpec, exc: BaseException) -> list[dict[str, Any]]:
        """The lines of a shard that raised or whose process died."""
        self.ended.add(spec.index)
        error = f"shard {spec.index} failed: {type(exc).__name__}: {exc}"
        lines = ended_shard_lines(spec, self.finished.get(spec.index, {}), error)
        correction = progress_correction(self.counted.get(spec.index, Counter()), lines)
        if correction and self.progress:
            self.progress({"event": "requests", "counts": correction})
        return lines


def run_local(
    shards: list[ShardSpec],
    *,
    workers: int = 1,
    retries: int = 3,
    backoff: float = 2.0,
    progress: ProgressSink | None = None,
) -> list[dict[str, Any]]:
    """Run every shard; returns the report lines of all their requests."""
    sink = _Shards(progress)
    if workers <= 1 or len(shards) <= 1:
        lines: list[dict[str, Any]] = []
        for spec in shards:
            try:
                lines.extend(
                    run_shard_with_retries(spec, retries=retries, backoff=backoff, progress=sink)
                )
            except Exception as exc:  # a bug must not take the other shards down
                log.exception("shard %d failed", spec.index)
                lines.extend(sink.failed(spec, exc))
        return lines
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    lines = []
    with ProcessPoolExecutor(
        max_workers=min(workers, len(shards)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(events, os.getpid()),
    ) as pool:
        futures: dict[Future[list[dict[str, Any]]], ShardSpec] = {
            pool.submit(_pool_shard, spec.to_document(), retries, backoff): spec for spec in shards
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(events, sink)
            for future in done:
                spec = futures[future]
                try:
                    lines.extend(future.result())
                except Exception as exc:  # the process died or the shard raised
                    lines.extend(sink.failed(spec, exc))
        _drain(events, sink)
    events.close()
    return lines


def _drain(events: Any, progress: ProgressSink | None) -> None:
    while True:
        try:
            event = events.get_nowait()
        except queue_module.Empty:
            return
        if progress:
            progress(event)
