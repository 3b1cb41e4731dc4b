"""The coordinator's poll of a shard's task, against task states in the local Redis.

A worker stores a shard's progress as a ``PROGRESS`` state whose info is a dict of
counters, and its end as ``SUCCESS`` whose info is the list of report lines. The
coordinator must treat the info as what the state it read with it says. These tests
make the shard end at a chosen moment: the result backend the coordinator reads
through is Celery's Redis backend, which stores the ``SUCCESS`` right after the
coordinator's n-th read of the task (as a worker finishing then would), so every
interleaving of the poll's reads with the task's end is tried, without timing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from batch_support import drop_redis_keys
from celery import states
from celery.backends.redis import RedisBackend

from discover.batch.broker import CelerySettings
from discover.batch.distributed import run_celery
from discover.batch.shard import ShardSpec, outcome
from discover.batch.tasks import make_app

pytestmark = pytest.mark.redis


@dataclass
class Ending:
    """When the watched task ends: after the coordinator's ``after``-th read of it."""

    task_id: str
    after: int
    state: str
    result: Any
    reads: int = 0


class EndingBackend(RedisBackend):
    """Celery's Redis result backend; the watched task ends right after a chosen read."""

    ending: Ending | None = None

    def get(self, key: Any) -> Any:
        value = super().get(key)
        ending = EndingBackend.ending
        if ending is not None and key == self.get_key_for_task(ending.task_id):
            ending.reads += 1
            if ending.reads == ending.after:  # what the worker stores when the task ends
                self.store_result(ending.task_id, ending.result, ending.state)
        return value


@pytest.fixture
def settings(redis_url: str) -> Iterator[CelerySettings]:
    """A queue no worker consumes and keys of the test's own, removed afterwards."""
    token = secrets.token_hex(4)
    settings = CelerySettings(
        broker=redis_url,
        backend=f"{__name__}:EndingBackend+{redis_url}",
        queue=f"discover-test-{token}",
        prefix=f"discover-test-{token}:",
    )
    try:
        yield settings
    finally:
        EndingBackend.ending = None
        drop_redis_keys(redis_url, settings.prefix)


def _spec(requests: int) -> ShardSpec:
    items = [{"line": n + 2, "request": {"request_id": f"R-{n}"}} for n in range(requests)]
    return ShardSpec(
        batch_id="b", run_id=secrets.token_hex(4), index=0, sources="", out="",
        formats=["json"], items=items,
    )  # fmt: skip


#: what the worker published before it ended: one scan of one source
PROGRESS = {
    "attempt": 0,
    "sources": {"crm": {"ids": 3, "records": 2, "rows": 5, "scans": 1}},
    "requests": {"done": 1},
}


def _run(settings: CelerySettings, spec: ShardSpec, ending: Ending) -> tuple[Any, list[Any]]:
    """Run the coordinator on a shard that is in PROGRESS and ends as ``ending`` says."""
    app = make_app(settings)
    try:
        app.backend.store_result(ending.task_id, PROGRESS, "PROGRESS")
    finally:
        app.close()
    EndingBackend.ending = ending
    events: list[dict[str, Any]] = []
    lines = run_celery([spec], settings=settings, progress=events.append, poll=0.01, timeout=60)
    return lines, events


def _requests(events: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        for status, count in event.get("counts", {}).items():
            counts[status] = counts.get(status, 0) + count
    return counts


def _scans(events: list[dict[str, Any]]) -> list[tuple[str, int, int, int, int]]:
    return [
        (e["source"], e["identifiers"], e["records"], e["rows"], e["scans"])
        for e in events
        if e["event"] == "scan"
    ]


@pytest.mark.parametrize("after", [1, 2, 3, 4])
def test_a_shard_ending_between_two_reads_of_its_task_is_collected(
    settings: CelerySettings, after: int
) -> None:
    spec = _spec(3)
    finished = [outcome(item, 0, "done") for item in spec.items]
    ending = Ending(f"{spec.run_id}-shard-0", after, states.SUCCESS, finished)
    lines, events = _run(settings, spec, ending)
    assert lines == finished
    assert ending.reads > after  # the coordinator did read the task after it ended
    assert _requests(events) == {"done": 3}
    # the progress the first poll read is handed on whole, even when the task ends
    # right after that read
    assert _scans(events) == [("crm", 3, 2, 5, 1)]


@pytest.mark.parametrize("after", [1, 2])
def test_a_shard_failing_between_two_reads_of_its_task_fails_its_requests(
    settings: CelerySettings, after: int
) -> None:
    spec = _spec(2)
    error = RuntimeError("the worker's disk is full")
    ending = Ending(f"{spec.run_id}-shard-0", after, states.FAILURE, error)
    lines, events = _run(settings, spec, ending)
    assert [(line["request_id"], line["status"]) for line in lines] == [
        ("R-0", "failed"),
        ("R-1", "failed"),
    ]
    for line in lines:
        assert line["error"] == f"shard 0 failed on the worker: {error!r}"
    assert _requests(events)["failed"] == 2
    assert _scans(events) == [("crm", 3, 2, 5, 1)]
