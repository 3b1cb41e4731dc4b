"""Batches on real Celery workers against the local Redis.

Each test starts its own ``celery worker`` processes (prefork, one pool process) on a
queue and key prefix of its own, so tests never see each other's tasks, and stops
them by PID afterwards. The coordinator runs in the test process.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_support import (
    INSTRUCTION,
    CeleryWorker,
    by_id,
    client_options,
    cure,
    drop_redis_keys,
    package_dirs,
    poison,
    write_csv,
)
from support import synthetic_estate as synthetic
from support.synthetic_estate import SynthEstate

from discover.batch import BatchOptions, run_batch
from discover.batch.broker import CelerySettings
from discover.batch.layout import MARKER
from exporters.package import verify_package

pytestmark = pytest.mark.redis


class Cluster:
    """Workers and coordinator settings for one test."""

    def __init__(self, redis_url: str, folder: Path, visibility_timeout: int) -> None:
        token = secrets.token_hex(4)
        self.settings = CelerySettings(
            broker=redis_url,
            queue=f"discover-test-{token}",
            prefix=f"discover-test-{token}:",
            visibility_timeout=visibility_timeout,
        )
        self.folder = folder
        self.workers: list[CeleryWorker] = []
        self.env = {
            **os.environ,
            "DISCOVER_BROKER_URL": redis_url,
            "DISCOVER_QUEUE": self.settings.queue,
            "DISCOVER_KEY_PREFIX": self.settings.prefix,
            "DISCOVER_VISIBILITY_TIMEOUT": str(visibility_timeout),
        }

    def worker(self) -> CeleryWorker:
        name = f"w{len(self.workers) + 1}"
        worker = CeleryWorker(self.env, self.folder / f"{name}.log", name)
        self.workers.append(worker)
        return worker.start()

    def options(self, **kwargs: Any) -> BatchOptions:
        return client_options(executor="celery", celery=self.settings, timeout=240, **kwargs)

    def log(self) -> str:
        return "\n".join(worker.text() for worker in self.workers)


def _cluster(redis_url: str, tmp_path: Path, visibility_timeout: int) -> Iterator[Cluster]:
    cluster = Cluster(redis_url, tmp_path, visibility_timeout)
    try:
        yield cluster
    finally:
        for worker in cluster.workers:
            worker.stop()
        drop_redis_keys(redis_url, cluster.settings.prefix)


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    yield from _cluster(redis_url, tmp_path, 3600)


@pytest.fixture
def short_cluster(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Tasks of a vanished worker become visible again after 6 s."""
    yield from _cluster(redis_url, tmp_path, 6)


def _rows(count: int, start: int = 1) -> list[dict[str, str]]:
    return synthetic.requests_rows(list(range(start, 300, 4))[:count])


def _in_thread(function: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = function()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _markers(out: Path) -> dict[str, int]:
    folder = out / "cases"
    if not folder.is_dir():
        return {}
    return {m.parent.name: m.stat().st_mtime_ns for m in folder.glob(f"*/{MARKER}")}


def _assert_clean_complete(out: Path, rows: list[dict[str, str]], report: dict[str, Any]) -> None:
    assert report["totals"]["complete"] == report["totals"]["requests"] == len(rows)
    names = package_dirs(out)
    assert names == sorted(f"{row['request_id']}-access" for row in rows)  # one each, no leftovers
    for name in names:
        assert verify_package(out / "packages" / name) == [], name


def test_a_batch_runs_on_a_real_worker(
    cluster: Cluster, synth: SynthEstate, tmp_path: Path
) -> None:
    cluster.worker()
    rows = _rows(30)
    malformed = {"request_id": "BAD-PHONE", "email": "", "phone": "12345", "name": ""}
    requests = write_csv(tmp_path / "r.csv", [*rows[:15], malformed, *rows[15:]])
    out = tmp_path / "out"
    report = run_batch(requests, synth.sources, out, cluster.options(shard_size=10))
    bad = by_id(report).pop("BAD-PHONE")
    assert (bad["status"], bad["line"]) == ("invalid", 17) and "phone" in bad["error"]
    report["requests"] = [line for line in report["requests"] if line["status"] != "invalid"]
    report["totals"]["requests"] -= 1
    _assert_clean_complete(out, rows, report)
    assert report["settings"]["executor"] == "celery" and report["settings"]["shards"] == 3
    assert cluster.log().count("succeeded in") == 3  # the shards ran on the worker
    for row in rows:  # the client's instruction reached the worker's export log
        log = json.loads((out / "cases" / row["request_id"] / "exports.json").read_text("utf-8"))
        assert [e["client_instruction"] for e in log["exports"]] == [INSTRUCTION]

    local = run_batch(requests, synth.sources, tmp_path / "local", client_options(shard_size=10))
    for request_id, line in by_id(local).items():
        if line["status"] == "invalid":
            continue
        assert by_id(report)[request_id]["hits"] == line["hits"]
        assert by_id(report)[request_id]["package"] == line["package"]

    again = run_batch(requests, synth.sources, out, cluster.options(shard_size=10))
    assert again["totals"]["skipped"] == 30 and again["settings"]["shards"] == 0
    assert again["totals"]["invalid"] == 1


def _poison_subject(estate: SynthEstate, index: int) -> None:
    with sqlite3.connect(estate.crm) as connection:
        (stored,) = connection.execute(
            "SELECT email FROM contacts WHERE id = ?", (index + 1,)
        ).fetchone()
    poison(estate.crm, "contacts", "email", stored, spoil="job_title")


def _isolated(count: int) -> list[dict[str, str]]:
    people = [i for i in range(20, 200) if not synthetic.shared_switchboard(i // 20)][:count]
    return [{"request_id": f"C-{i:03d}", "email": synthetic.person(i).email} for i in people]


def test_a_source_failing_for_the_second_shard_on_workers(
    cluster: Cluster, own_synth: SynthEstate, tmp_path: Path
) -> None:
    cluster.worker()
    rows = _isolated(30)
    _poison_subject(own_synth, int(rows[15]["request_id"][2:]))
    out = tmp_path / "out"
    report = run_batch(
        write_csv(tmp_path / "r.csv", rows),
        own_synth.sources,
        out,
        cluster.options(shard_size=10, retries=1, backoff=0.2),
    )
    second = {row["request_id"] for row in rows[10:20]}
    for request_id, line in by_id(report).items():
        if request_id in second:
            assert line["status"] == "incomplete" and "crm" in line["failed_sources"]
        else:
            assert line["status"] == "done"
    assert len(package_dirs(out)) == 20
    assert cluster.log().count("retry: Retry in") == 1  # transient: retried once, then reported


def test_a_transient_failure_is_retried_with_backoff_until_it_succeeds(
    cluster: Cluster, own_synth: SynthEstate, tmp_path: Path
) -> None:
    cluster.worker()
    rows = _isolated(20)
    _poison_subject(own_synth, int(rows[12]["request_id"][2:]))
    out = tmp_path / "out"
    requests = write_csv(tmp_path / "r.csv", rows)
    thread, box = _in_thread(
        lambda: run_batch(
            requests, own_synth.sources, out, cluster.options(shard_size=10, retries=3, backoff=3)
        )
    )
    _wait_for(lambda: "retry: Retry in 3s" in cluster.log(), 120, "the first retry")
    cure(own_synth.crm, "contacts")  # the source recovers during the backoff
    thread.join(240)
    assert "error" not in box, box.get("error")
    _assert_clean_complete(out, rows, box["result"])
    assert cluster.log().count("retry: Retry in") == 1


def test_a_killed_pool_process_loses_no_shard(
    cluster: Cluster, synth: SynthEstate, tmp_path: Path
) -> None:
    worker = cluster.worker()
    rows = _rows(60)
    requests = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    thread, box = _in_thread(
        lambda: run_batch(requests, synth.sources, out, cluster.options(shard_size=30))
    )
    _wait_for(lambda: len(_markers(out)) >= 5, 120, "the first requests of shard 1")
    before = _markers(out)
    worker.kill_child()  # mid-shard: some requests of shard 1 written, the rest not
    assert len(before) < 30
    thread.join(240)
    assert "error" not in box, box.get("error")
    report = box["result"]
    _assert_clean_complete(out, rows, report)
    assert "WorkerLostError" in cluster.log() or "SIGKILL" in cluster.log()
    after = _markers(out)
    for request_id, mtime in before.items():  # the redelivered shard did not redo them
        assert after[request_id] == mtime, request_id


def test_a_killed_worker_is_replaced_and_its_shard_redelivered(
    short_cluster: Cluster, synth: SynthEstate, tmp_path: Path
) -> None:
    first = short_cluster.worker()
    rows = _rows(40)
    requests = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    thread, box = _in_thread(
        lambda: run_batch(requests, synth.sources, out, short_cluster.options(shard_size=40))
    )
    _wait_for(lambda: len(_markers(out)) >= 5, 120, "the first requests of the shard")
    first.kill()  # the whole worker, main process and pool, as if its machine died
    written = _markers(out)
    assert len(written) < 40
    short_cluster.worker()  # another worker takes the shard once it is visible again
    thread.join(240)
    assert "error" not in box, box.get("error")
    _assert_clean_complete(out, rows, box["result"])
    assert short_cluster.workers[1].text().count("succeeded in") >= 1
    after = _markers(out)
    for request_id, mtime in written.items():
        assert after[request_id] == mtime, request_id
