"""The local executor: shards on this machine, one after the other or in processes.

With one worker the shards run in this process, one after another. With more, each
shard runs in a process of a pool (``spawn``: a clean interpreter, no inherited
connections); their progress events travel back through a queue. A shard whose
process dies is reported as failed for its requests; the others go on, and a rerun
of the batch picks the failed requests up again. Workers stop when the process that
started them dies (:mod:`discover.batch.orphans`).
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from discover.batch.orphans import stop_with_parent
from discover.batch.shard import ProgressSink, ShardSpec, outcome, run_shard_with_retries

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


def _failed(spec: ShardSpec, error: str) -> list[dict[str, Any]]:
    return [outcome(item, spec.index, "failed", error=error) for item in spec.items]


def run_local(
    shards: list[ShardSpec],
    *,
    workers: int = 1,
    retries: int = 3,
    backoff: float = 2.0,
    progress: ProgressSink | None = None,
) -> list[dict[str, Any]]:
    """Run every shard; returns the report lines of all their requests."""
    if workers <= 1 or len(shards) <= 1:
        lines: list[dict[str, Any]] = []
        for spec in shards:
            lines.extend(
                run_shard_with_retries(spec, retries=retries, backoff=backoff, progress=progress)
            )
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
            _drain(events, progress)
            for future in done:
                spec = futures[future]
                try:
                    lines.extend(future.result())
                except Exception as exc:  # the process died or the shard raised
                    error = f"shard {spec.index} failed: {type(exc).__name__}: {exc}"
                    failed = _failed(spec, error)
                    if progress:
                        for _line in failed:
                            progress({"event": "request", "status": "failed"})
                    lines.extend(failed)
        _drain(events, progress)
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
