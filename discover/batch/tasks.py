"""The Celery app of batch shards: its settings and the shard task.

Both the workers (:mod:`discover.batch.celery_app`, the module ``celery -A`` loads) and
the coordinator (:mod:`discover.batch.distributed`) build their app here, from the
same :class:`~discover.batch.broker.CelerySettings`.

Delivery is "at least once": a task is acknowledged only after it finished
(``acks_late``); when the process running it dies the message goes back to the
queue (``reject_on_worker_lost``); each worker takes one task at a time
(``prefetch_multiplier=1``). A shard may therefore run twice; its writes are
idempotent (see :mod:`discover.batch.shard`).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from celery import Celery, Task

from discover.batch.broker import TASK_NAME, CelerySettings
from discover.batch.shard import ShardSpec, TransientShardFailure, backoff_seconds, run_shard


def make_app(settings: CelerySettings) -> Celery:
    """A Celery app for these settings, with the shard task registered."""
    app = Celery("discover", broker=settings.broker, backend=settings.backend or settings.broker)
    fast_restore = settings.visibility_timeout < 120
    transport: dict[str, Any] = {
        "global_keyprefix": settings.prefix,
        "visibility_timeout": settings.visibility_timeout,
    }
    if fast_restore:  # a short timeout is only useful if abandoned tasks are looked for often
        transport.update(unacked_restore_interval=1, unacked_restore_throttle=1)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue,
        task_track_started=True,
        broker_transport_options=transport,
        result_backend_transport_options={"global_keyprefix": settings.prefix},
        result_expires=7 * 24 * 3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
    )
    app.task(name=TASK_NAME, bind=True)(run_shard_task)
    return app


class _StateSink:
    """Publishes a shard's progress as task state, at most a few times a second."""

    def __init__(self, task: Task, attempt: int) -> None:
        self.task = task
        self.sources: dict[str, dict[str, int]] = {}
        self.requests: Counter[str] = Counter()
        #: lines (in the requests file) of the requests finished, per status: if the
        #: task fails later, the coordinator keeps them (request lines, no identifiers)
        self.finished: dict[str, list[int]] = {}
        self.attempt = attempt
        self.last = 0.0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "scan":
            counts = self.sources.setdefault(
                event["source"], {"ids": 0, "records": 0, "rows": 0, "scans": 0}
            )
            counts["ids"] += event.get("identifiers", 0)
            counts["records"] += event.get("records", 0)
            counts["rows"] += event.get("rows", 0)
            counts["scans"] += 1
        elif kind == "request":
            status = event.get("status", "done")
            self.requests[status] += 1
            if "line" in event:
                self.finished.setdefault(status, []).append(event["line"])
        else:
            return
        now = time.monotonic()
        if kind == "scan" or now - self.last > 0.5:
            self.publish()
            self.last = now

    def publish(self) -> None:
        if not self.task.request.id:
            return
        self.task.update_state(
            state="PROGRESS",
            meta={
                "attempt": self.attempt,
                "sources": self.sources,
                "requests": dict(self.requests),
                "finished": self.finished,
            },
        )


def run_shard_task(self: Task, spec: dict[str, Any], retries: int, backoff: float) -> Any:
    """Celery task: one shard. Transient source failures are retried with backoff."""
    attempt = self.request.retries
    sink = _StateSink(self, attempt)
    try:
        lines = run_shard(
            ShardSpec.from_document(spec), final_attempt=attempt >= retries, progress=sink
        )
    except TransientShardFailure as exc:
        raise self.retry(
            exc=exc, countdown=backoff_seconds(attempt, backoff), max_retries=retries
        ) from None
    return lines
