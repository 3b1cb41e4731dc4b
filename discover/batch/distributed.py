"""The Celery executor: send one task per shard, follow them, collect the report lines.

The coordinator (the ``discover batch`` process) needs no worker code of its own: it
publishes tasks by name and polls their state in the result backend. Workers
publish their progress as task state (``PROGRESS`` with per-source counters, the
requests finished per status and their lines in the requests file); the coordinator
turns the differences into the same events the local executor sends, so the progress
bars look the same. A shard whose task fails, or gives no result in time, keeps the
requests its worker had finished (:mod:`discover.batch.salvage`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery
from celery.result import AsyncResult

from discover.batch.broker import TASK_NAME, CelerySettings
from discover.batch.salvage import ended_shard_lines, progress_correction
from discover.batch.shard import ProgressSink, ShardSpec
from discover.batch.tasks import make_app
from discover.errors import DiscoverError

log = logging.getLogger(__name__)


#: the error of requests whose shard got no result before ``timeout``
TIMEOUT_ERROR = "no result from the workers within"


class BrokerError(DiscoverError):
    """The broker could not be reached: nothing was sent."""


class _Follower:
    """Turns one shard's cumulative PROGRESS counters into progress events."""

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self.sources: dict[str, dict[str, int]] = {}
        #: requests counted in progress events so far, per status
        self.requests: dict[str, int] = {}
        #: the requests the worker reported finished: line in the requests file → status
        self.finished: dict[int, str] = {}
        self.attempt = 0

    def update(self, meta: dict[str, Any], progress: ProgressSink) -> None:
        if meta.get("attempt", 0) != self.attempt:  # a retry starts counting afresh
            self.attempt = meta.get("attempt", 0)
            self.sources = {}
        for name, counts in meta.get("sources", {}).items():
            seen = self.sources.setdefault(name, {"ids": 0, "records": 0, "rows": 0, "scans": 0})
            delta = {key: max(0, counts.get(key, 0) - seen[key]) for key in seen}
            if any(delta.values()):
                progress(
                    {
                        "event": "scan",
                        "shard": self.spec.index,
                        "source": name,
                        "identifiers": delta["ids"],
                        "records": delta["records"],
                        "rows": delta["rows"],
                        "scans": delta["scans"],
                        "ok": True,
                    }
                )
                self.sources[name] = {key: max(seen[key], counts.get(key, 0)) for key in seen}
        for status, lines in meta.get("finished", {}).items():
            for line in lines:
                self.finished[line] = status
        self.report_requests(meta.get("requests", {}), progress)

    def report_requests(self, counts: dict[str, int], progress: ProgressSink) -> None:
        delta = {
            status: count - self.requests.get(status, 0)
            for status, count in counts.items()
            if count > self.requests.get(status, 0)
        }
        if delta:
            progress({"event": "requests", "counts": delta})
            for status, count in delta.items():
                self.requests[status] = self.requests.get(status, 0) + count


def run_celery(
    shards: list[ShardSpec],
    *,
    settings: CelerySettings,
    retries: int = 3,
    backoff: float = 2.0,
    progress: ProgressSink | None = None,
    poll: float = 0.5,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """Run the shards on Celery workers; returns the report lines of all their requests."""
    sink: ProgressSink = progress or (lambda _event: None)
    app = make_app(settings)
    followers: dict[str, _Follower] = {}
    try:
        for spec in shards:
            task_id = f"{spec.run_id}-shard-{spec.index}"
            app.send_task(
                TASK_NAME,
                args=[spec.to_document(), retries, backoff],
                task_id=task_id,
                queue=settings.queue,
            )
            followers[task_id] = _Follower(spec)
    except Exception as exc:  # kombu raises its own OperationalError family
        raise BrokerError(f"cannot send tasks to the broker {settings.broker}: {exc}") from exc
    lines: list[dict[str, Any]] = []
    started = time.monotonic()
    warned = False
    try:
        while followers:
            for task_id, follower in list(followers.items()):
                state, info = _snapshot(app, task_id)
                shard_lines = _follow(follower, state, info, sink)
                if shard_lines is not None:
                    lines.extend(shard_lines)
                    AsyncResult(task_id, app=app).forget()
                    del followers[task_id]
            if not followers:
                break
            waited = time.monotonic() - started
            if not warned and waited > 15 and all(not f.requests for f in followers.values()):
                sink(
                    {
                        "event": "message",
                        "text": f"[yellow]no shard has finished a request after {waited:.0f} s: "
                        f"are workers consuming queue {settings.queue!r}?[/]",
                    }
                )
                warned = True
            if timeout is not None and waited > timeout:
                for task_id, follower in followers.items():
                    app.control.revoke(task_id)
                    error = f"{TIMEOUT_ERROR} {timeout:.0f} s (the shard may still be running)"
                    lines.extend(_finish(follower, _ended(follower, error), sink))
                break
            time.sleep(poll)
    finally:
        app.close()
    return lines


def _snapshot(app: Celery, task_id: str) -> tuple[str, Any]:
    """A task's state and its info, read together in one request to the result backend.

    ``AsyncResult.state`` and ``.info`` each ask the backend again, and a task may end
    between the two: a ``PROGRESS`` state then comes with the task's result (a shard's
    report lines, a list) instead of its progress counters (a dict).
    """
    meta = app.backend.get_task_meta(task_id)
    return meta["status"], meta.get("result")


def _follow(
    follower: _Follower, state: str, info: Any, progress: ProgressSink
) -> list[dict[str, Any]] | None:
    """Hand one snapshot of a shard's task (see :func:`_snapshot`) on to ``progress``.

    Returns the shard's report lines once its task has ended, None while it runs.
    """
    if state == "PROGRESS" and isinstance(info, dict):
        follower.update(info, progress)
    elif state == "SUCCESS":
        return _finish(follower, info, progress)
    elif state == "FAILURE":
        error = f"shard {follower.spec.index} failed on the worker: {info!r}"
        return _finish(follower, _ended(follower, error), progress)
    return None


def _ended(follower: _Follower, error: str) -> list[dict[str, Any]]:
    """A shard without its report: what its worker finished stays, the rest failed."""
    return ended_shard_lines(follower.spec, follower.finished, error)


def _finish(
    follower: _Follower, shard_lines: list[dict[str, Any]], progress: ProgressSink
) -> list[dict[str, Any]]:
    """Bring the shard's requests counted so far to its report's counts."""
    correction = progress_correction(follower.requests, shard_lines)
    if correction:
        progress({"event": "requests", "counts": correction})
        for status, count in correction.items():
            follower.requests[status] = follower.requests.get(status, 0) + count
    return shard_lines
