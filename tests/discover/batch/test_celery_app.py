"""A worker started with ``celery -A discover.batch.celery_app worker`` gives polars's
freed memory back at once, as the ``discover`` command does, unless the operator chose
a decay.

What is checked is the allocator's own configuration: with ``stats_print:true`` in
``_RJEM_MALLOC_CONF``, polars's jemalloc prints the settings it runs with when the
worker's main process exits. The pool processes that run the shards are forked from
that process after polars loaded, so they run with the same settings.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_support import CeleryWorker, drop_redis_keys

from discover import allocator

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """The worker's queue and key prefix, removed from Redis afterwards."""
    prefix = f"discover-test-{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        drop_redis_keys(redis_url, prefix)


def _decays(log: str) -> list[tuple[int, int]]:
    """The dirty and muzzy decays jemalloc reported, one pair per process that did."""
    dirty = re.findall(r"opt\.dirty_decay_ms: (-?\d+)", log)
    muzzy = re.findall(r"opt\.muzzy_decay_ms: (-?\d+)", log)
    return [(int(d), int(m)) for d, m in zip(dirty, muzzy, strict=True)]


@pytest.mark.parametrize(
    ("operator", "decays"),
    [
        # nothing chosen: freed pages go back at once
        ("stats_print:true", (0, 0)),
        # started from a process that loaded polars, which put its defaults there
        ("dirty_decay_ms:500,muzzy_decay_ms:1000,stats_print:true", (0, 0)),
        # the operator's own decay is kept (and polars's default for the other one)
        ("dirty_decay_ms:2000,stats_print:true", (2000, 1000)),
    ],
)
def test_a_worker_started_with_the_celery_command_gives_memory_back(
    redis_url: str, prefix: str, tmp_path: Path, operator: str, decays: tuple[int, int]
) -> None:
    env = {name: value for name, value in os.environ.items() if name != allocator.VARIABLE}
    env.update(
        {
            allocator.VARIABLE: operator,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "DISCOVER_BROKER_URL": redis_url,
            "DISCOVER_QUEUE": prefix.rstrip(":"),
            "DISCOVER_KEY_PREFIX": prefix,
        }
    )
    worker = CeleryWorker(env, tmp_path / "worker.log", "allocator")
    try:
        worker.start()
    finally:
        worker.stop()  # the main process exits the normal way: jemalloc prints its settings
    log = worker.text()
    assert worker.process is not None and worker.process.returncode == 0, log[-3000:]
    assert _decays(log) == [decays], log[-3000:]
