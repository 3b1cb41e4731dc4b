"""Broker settings shared by the Celery workers and the coordinator (no Celery import).

Read from the environment, the same on workers and on the machine that starts the
batch; see :mod:`discover.batch.celery_app` for what each variable means.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TASK_NAME = "discover.batch.run_shard"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "discover-batch"
DEFAULT_PREFIX = "discover:"


@dataclass(frozen=True, slots=True)
class CelerySettings:
    """Where the broker is and which queue and key prefix to use."""

    broker: str = DEFAULT_BROKER
    backend: str | None = None
    queue: str = DEFAULT_QUEUE
    prefix: str = DEFAULT_PREFIX
    visibility_timeout: int = 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CelerySettings:
        env = os.environ if environ is None else environ
        broker = env.get("DISCOVER_BROKER_URL") or DEFAULT_BROKER
        return cls(
            broker=broker,
            backend=env.get("DISCOVER_RESULT_BACKEND") or None,
            queue=env.get("DISCOVER_QUEUE") or DEFAULT_QUEUE,
            prefix=env.get("DISCOVER_KEY_PREFIX") or DEFAULT_PREFIX,
            visibility_timeout=int(env.get("DISCOVER_VISIBILITY_TIMEOUT") or 3600),
        )
