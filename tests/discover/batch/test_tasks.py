"""The shard task's progress, as a worker stores it in the local Redis.

The coordinator keeps the requests a worker finished when the shard's task fails
later (see test_distributed.py); it learns of them from the task's ``PROGRESS``
state only. Here a real shard of the demo estate runs with the task's progress sink,
and the state it stored is read back from Redis.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_support import drop_redis_keys, write_csv

from discover.batch.broker import TASK_NAME, CelerySettings
from discover.batch.requests import read_requests
from discover.batch.shard import ShardSpec, run_shard
from discover.batch.tasks import _StateSink, make_app
from discover.demo.estate import DemoLayout
from discover.demo.people import JAN, PIETER, ZOE

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(redis_url: str) -> Iterator[CelerySettings]:
    token = secrets.token_hex(4)
    settings = CelerySettings(
        broker=redis_url, queue=f"discover-test-{token}", prefix=f"discover-test-{token}:"
    )
    try:
        yield settings
    finally:
        drop_redis_keys(redis_url, settings.prefix)


def test_the_progress_names_the_finished_requests_by_line_only(
    settings: CelerySettings, demo: DemoLayout, tmp_path: Path
) -> None:
    rows = [
        {"request_id": "R-JAN", "email": JAN.email},
        {"request_id": "R-ZOE", "email": ZOE.email, "phone": "06-123 45"},  # incomplete
        {"request_id": "R-PIETER", "phone": "06-1112 2233"},
    ]
    items = read_requests(write_csv(tmp_path / "requests.csv", rows)).items
    spec = ShardSpec(
        batch_id="b", run_id="r", index=1, sources=str(demo.sources), out=str(tmp_path / "out"),
        formats=["json"], items=[item.to_document() for item in items],
    )  # fmt: skip
    app = make_app(settings)
    task = app.tasks[TASK_NAME]
    task_id = f"r-shard-{secrets.token_hex(4)}"
    task.push_request(id=task_id, retries=0)
    try:
        sink = _StateSink(task, attempt=0)
        lines = run_shard(spec, progress=sink)
        sink.publish()  # request events are published a few times a second at most
        meta = app.backend.get_task_meta(task_id)
    finally:
        task.pop_request()
        app.close()
    assert meta["status"] == "PROGRESS"
    progress = meta["result"]
    assert [line["status"] for line in lines] == ["done", "incomplete", "done"]
    assert progress["finished"] == {"done": [2, 4], "incomplete": [3]}
    assert progress["requests"] == {"done": 2, "incomplete": 1}
    stored = json.dumps(progress)
    for value in (JAN.email, ZOE.email, "06-123 45", "06-1112 2233", PIETER.mobile, "R-JAN"):
        assert value not in stored
