"""The Celery app that runs batch shards on workers.

Start workers on every machine that can reach the sources and the shared output
directory::

    export DISCOVER_BROKER_URL=redis://127.0.0.1:6379/0
    celery -A discover.batch.celery_app worker --loglevel=info --concurrency=2

``discover batch … --executor celery`` then sends one task per shard to the queue.
Settings come from the environment, the same on workers and on the machine that
starts the batch:

* ``DISCOVER_BROKER_URL`` (default ``redis://127.0.0.1:6379/0``): broker;
* ``DISCOVER_RESULT_BACKEND`` (default: the broker URL): where results are kept;
* ``DISCOVER_QUEUE`` (default ``discover-batch``): the queue the workers consume;
* ``DISCOVER_KEY_PREFIX`` (default ``discover:``): prefix of every Redis key, so that
  several installations (or test runs) can share one Redis;
* ``DISCOVER_VISIBILITY_TIMEOUT`` (default 3600 s): how long a task taken by a worker
  that vanished (killed with its whole machine) stays invisible before it is
  delivered again. Must exceed the longest shard.

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
            self.requests[event.get("status", "done")] += 1
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


#: the app ``celery -A discover.batch.celery_app worker`` runs
app = make_app(CelerySettings.from_env())
