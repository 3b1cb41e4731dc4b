"""The coordinator's poll of a shard's task, against task states in the local Redis.

A worker stores a shard's progress as a ``PROGRESS`` state whose info is a dict of
counters, and its end as ``SUCCESS`` whose info is the list of report lines. The
coordinator must treat the info as what the state it read with it says. These tests
make the shard end at a chosen moment: the result backend the coordinator reads
through is Celery's Redis backend, which stores the ``SUCCESS`` (or ``FAILURE``)
right after the coordinator's n-th read of the task (as a worker finishing then
would), so every interleaving of the poll's reads with the task's end is tried,
without timing.

A shard that fails after its worker finished some requests keeps them: the tests
write those requests for real (a shard of the demo estate run here), publish them
as the worker's progress and then fail the task.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from batch_support import drop_redis_keys, write_csv
from celery import states
from celery.backends.redis import RedisBackend

from discover.batch.broker import CelerySettings
from discover.batch.distributed import TIMEOUT_ERROR, run_celery
from discover.batch.requests import read_requests
from discover.batch.shard import ShardSpec, outcome, run_shard
from discover.batch.tasks import make_app
from discover.demo.estate import DemoLayout
from discover.demo.people import JAN, ZOE

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


def _spec(requests: int, out: Path) -> ShardSpec:
    """A shard of requests no worker will search; its output directory stays empty."""
    items = [{"line": n + 2, "request": {"request_id": f"R-{n}"}} for n in range(requests)]
    return ShardSpec(
        batch_id="b", run_id=secrets.token_hex(4), index=0, sources="", out=str(out),
        formats=["json"], items=items,
    )  # fmt: skip


#: what the worker published before it ended: one scan of one source
PROGRESS = {
    "attempt": 0,
    "sources": {"crm": {"ids": 3, "records": 2, "rows": 5, "scans": 1}},
    "requests": {"done": 1},
}


def _run(
    settings: CelerySettings,
    spec: ShardSpec,
    ending: Ending,
    progress: dict[str, Any] = PROGRESS,
    timeout: float = 60,
) -> tuple[Any, list[Any]]:
    """Run the coordinator on a shard that is in PROGRESS and ends as ``ending`` says."""
    app = make_app(settings)
    try:
        app.backend.store_result(ending.task_id, progress, "PROGRESS")
    finally:
        app.close()
    EndingBackend.ending = ending
    events: list[dict[str, Any]] = []
    lines = run_celery(
        [spec], settings=settings, progress=events.append, poll=0.01, timeout=timeout
    )
    return lines, events


def _requests(events: list[dict[str, Any]]) -> dict[str, int]:
    """The requests the progress counts at the end, per status (statuses at 0 left out)."""
    counts: dict[str, int] = {}
    for event in events:
        for status, count in event.get("counts", {}).items():
            counts[status] = counts.get(status, 0) + count
    return {status: count for status, count in counts.items() if count}


def _most_requests(events: list[dict[str, Any]]) -> int:
    """The highest number of requests the progress counted at any moment."""
    counted = most = 0
    for event in events:
        counted += sum(event.get("counts", {}).values())
        most = max(most, counted)
    return most


def _scans(events: list[dict[str, Any]]) -> list[tuple[str, int, int, int, int]]:
    return [
        (e["source"], e["identifiers"], e["records"], e["rows"], e["scans"])
        for e in events
        if e["event"] == "scan"
    ]


@pytest.mark.parametrize("after", [1, 2, 3, 4])
def test_a_shard_ending_between_two_reads_of_its_task_is_collected(
    settings: CelerySettings, after: int, tmp_path: Path
) -> None:
    spec = _spec(3, tmp_path)
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
    settings: CelerySettings, after: int, tmp_path: Path
) -> None:
    """The worker had reported a request done, but no package of it is there: the
    report fails both, and the progress ends at the report's counts, never above."""
    spec = _spec(2, tmp_path)
    error = RuntimeError("the worker's disk is full")
    ending = Ending(f"{spec.run_id}-shard-0", after, states.FAILURE, error)
    lines, events = _run(settings, spec, ending)
    assert [(line["request_id"], line["status"]) for line in lines] == [
        ("R-0", "failed"),
        ("R-1", "failed"),
    ]
    for line in lines:
        assert line["error"] == f"shard 0 failed on the worker: {error!r}"
    assert _requests(events) == {"failed": 2}
    assert _most_requests(events) == 2
    assert _scans(events) == [("crm", 3, 2, 5, 1)]


#: the demo requests of the shard that fails: the worker finishes the first two (one
#: done, one incomplete because of its malformed phone number), then its task fails
ROWS = [
    {"request_id": "R-JAN", "email": JAN.email},
    {"request_id": "R-ZOE", "email": ZOE.email, "phone": "06-123 45"},
    {"request_id": "R-PIETER", "phone": "06-1112 2233"},
]


def _demo_spec(demo: DemoLayout, tmp_path: Path) -> ShardSpec:
    items = read_requests(write_csv(tmp_path / "requests.csv", ROWS)).items
    return ShardSpec(
        batch_id="b", run_id=secrets.token_hex(4), index=1, sources=str(demo.sources),
        out=str(tmp_path / "out"), formats=["json"], items=[i.to_document() for i in items],
    )  # fmt: skip


def _finish_two(spec: ShardSpec) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write the shard's first two requests for real, as its worker did before it failed;
    returns their report lines and the progress the worker published for them."""
    finished = run_shard(replace(spec, items=spec.items[:2]))
    assert [line["status"] for line in finished] == ["done", "incomplete"]
    progress = {
        **PROGRESS,
        "requests": {"done": 1, "incomplete": 1},
        "finished": {"done": [finished[0]["line"]], "incomplete": [finished[1]["line"]]},
    }
    return finished, progress


@pytest.mark.parametrize("after", [1, 2])
def test_a_shard_failing_after_its_worker_finished_requests_keeps_them(
    settings: CelerySettings, after: int, demo: DemoLayout, tmp_path: Path
) -> None:
    spec = _demo_spec(demo, tmp_path)
    finished, progress = _finish_two(spec)
    assert finished[0]["package"] and finished[1]["package"]  # R-ZOE's names what was rejected
    error = RuntimeError("the worker's disk is full")
    ending = Ending(f"{spec.run_id}-shard-1", after, states.FAILURE, error)
    lines, events = _run(settings, spec, ending, progress)
    # what the worker finished keeps its line: status, hits, case, package, checksum, error
    assert lines[:2] == finished
    [rest] = lines[2:]
    assert (rest["request_id"], rest["status"]) == ("R-PIETER", "failed")
    assert rest["error"] == f"shard 1 failed on the worker: {error!r}"
    assert rest["package"] is None
    assert _requests(events) == {"done": 1, "incomplete": 1, "failed": 1}
    assert _most_requests(events) == 3


def test_a_done_request_the_coordinator_did_not_see_reported_is_kept(
    settings: CelerySettings, demo: DemoLayout, tmp_path: Path
) -> None:
    """The worker finished a request after the last progress the coordinator read
    (its task's end replaced that progress): its package is there, so it is done."""
    spec = _demo_spec(demo, tmp_path)
    finished, _progress = _finish_two(spec)
    ending = Ending(f"{spec.run_id}-shard-1", 1, states.FAILURE, RuntimeError("lost"))
    lines, events = _run(settings, spec, ending)  # the progress counts one request done
    assert lines[0] == finished[0]
    assert [line["status"] for line in lines[1:]] == ["failed", "failed"]
    assert _requests(events) == {"done": 1, "failed": 2}
    assert _most_requests(events) == 3


def test_a_shard_without_a_result_in_time_keeps_what_its_worker_finished(
    settings: CelerySettings, demo: DemoLayout, tmp_path: Path
) -> None:
    spec = _demo_spec(demo, tmp_path)
    finished, progress = _finish_two(spec)
    never = Ending(f"{spec.run_id}-shard-1", 10**9, states.SUCCESS, [])
    lines, events = _run(settings, spec, never, progress, timeout=0)
    assert lines[:2] == finished
    assert lines[2]["status"] == "failed" and TIMEOUT_ERROR in lines[2]["error"]
    assert _requests(events) == {"done": 1, "incomplete": 1, "failed": 1}
    assert _most_requests(events) == 3
