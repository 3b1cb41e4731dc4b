"""A shard that fails midway on the local executor keeps the requests it finished.

In this process (one worker) the shard raises while writing one request; in a
process pool, the process running the shard dies while one of its requests waits
for that request's lock, which the test holds. Either way the requests the shard
had finished have their packages: the report says done for them and failed only for
the rest, the progress ends at the report's counts (never above the total), and a
rerun skips the finished requests and does the failed ones.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from batch_support import by_id, client_options, package_dirs, write_csv

from discover.batch import run_batch
from discover.batch.layout import MARKER
from discover.batch.salvage import progress_correction
from discover.demo.estate import DemoLayout
from discover.demo.people import FATIMA, JAN, ZOE
from exporters.package import MANIFEST, sha256_file, verify_package

ROWS = [
    {"request_id": "R-JAN", "email": JAN.email, "name": JAN.name},
    {"request_id": "R-ZOE", "email": ZOE.email.upper(), "language": "en"},
    {"request_id": "R-PIETER", "phone": "06-1112 2233", "kind": "portability"},
    {"request_id": "R-FATIMA", "email": FATIMA.email, "controller": "client"},
]


def _counts(events: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """The requests the progress counts at the end per status, and the most it ever
    counted (as :class:`discover.batch.progress.BatchProgress` adds them up)."""
    counts: dict[str, int] = {}
    counted = most = 0
    for event in events:
        if event["event"] == "request":
            added = {event["status"]: 1}
        elif event["event"] == "requests":
            added = event["counts"]
        else:
            continue
        for status, count in added.items():
            counts[status] = counts.get(status, 0) + count
        counted += sum(added.values())
        most = max(most, counted)
    return {status: count for status, count in counts.items() if count}, most


def _assert_true_to_disk(out: Path, report: dict[str, Any]) -> None:
    """Every request the report calls done has its verified package, and only those."""
    for request_id, line in by_id(report).items():
        if line["status"] == "done":
            package = out / line["package"]
            assert verify_package(package) == [], request_id
            assert line["package_sha256"] == sha256_file(package / MANIFEST)
            assert line["hits_total"] > 0 and line["case"] == f"cases/{request_id}"
        else:
            assert not (out / "cases" / request_id / MARKER).exists(), request_id


def test_a_shard_raising_midway_in_this_process_keeps_what_it_finished(
    demo: DemoLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import discover.batch.shard as shard

    real_export = shard.export_package

    def export(case: Path, **kwargs: Any) -> Any:
        if case.name == "R-ZOE":
            raise RuntimeError("the exporter broke")  # not an error a request's line absorbs
        return real_export(case, **kwargs)

    monkeypatch.setattr(shard, "export_package", export)
    requests = write_csv(tmp_path / "requests.csv", ROWS)
    out = tmp_path / "out"
    events: list[dict[str, Any]] = []
    report = run_batch(requests, demo.sources, out, client_options(), progress=events.append)
    statuses = {rid: line["status"] for rid, line in by_id(report).items()}
    assert statuses == {"R-JAN": "done", "R-ZOE": "failed", "R-PIETER": "done", "R-FATIMA": "done"}
    assert by_id(report)["R-ZOE"]["error"] == "shard 1 failed: RuntimeError: the exporter broke"
    _assert_true_to_disk(out, report)
    counts, most = _counts(events)
    assert counts == {"done": 3, "failed": 1} and most == 4
    assert report["totals"] == {"requests": 4, "done": 3, "failed": 1, "complete": 3}

    monkeypatch.setattr(shard, "export_package", real_export)
    again = run_batch(requests, demo.sources, out, client_options())
    statuses = {rid: line["status"] for rid, line in by_id(again).items()}
    assert statuses == {
        "R-JAN": "skipped",
        "R-ZOE": "done",
        "R-PIETER": "skipped",
        "R-FATIMA": "skipped",
    }
    assert by_id(again)["R-JAN"]["package_sha256"] == by_id(report)["R-JAN"]["package_sha256"]
    assert len(package_dirs(out)) == 4


def _wait_for(condition: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def _holder(lock: Path) -> psutil.Process | None:
    """The pool process that opened ``lock`` (it waits for it)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if any(Path(f.path) == lock for f in child.open_files()):
                return child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def test_a_pool_process_dying_midway_keeps_what_its_shard_finished(
    demo: DemoLayout, tmp_path: Path
) -> None:
    requests = write_csv(tmp_path / "requests.csv", ROWS)
    out = tmp_path / "out"
    locks = out / ".locks"
    locks.mkdir(parents=True, mode=0o700)
    lock = locks / "R-ZOE.lock"
    # Two shards: R-JAN and R-ZOE in the first, R-PIETER and R-FATIMA in the second.
    # R-ZOE's writer waits for the lock held here; its process is killed meanwhile.
    held = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)
    events: list[dict[str, Any]] = []
    box: dict[str, Any] = {}

    def batch() -> None:
        options = client_options(workers=2)
        box["report"] = run_batch(requests, demo.sources, out, options, progress=events.append)

    thread = threading.Thread(target=batch, daemon=True)
    try:
        thread.start()
        waiting = _wait_for(lambda: _holder(lock), "R-ZOE's writer to wait for its lock")
        for rid in ("R-JAN", "R-PIETER", "R-FATIMA"):
            _wait_for((out / "cases" / rid / MARKER).exists, f"{rid} to be written")
        waiting.send_signal(signal.SIGKILL)
        thread.join(timeout=120)
    finally:
        fcntl.flock(held, fcntl.LOCK_UN)
        os.close(held)
    assert not thread.is_alive()
    report = box["report"]
    lines = by_id(report)
    statuses = {rid: line["status"] for rid, line in lines.items()}
    assert statuses == {"R-JAN": "done", "R-ZOE": "failed", "R-PIETER": "done", "R-FATIMA": "done"}
    assert lines["R-JAN"]["shard"] == lines["R-ZOE"]["shard"] == 1
    assert lines["R-ZOE"]["error"].startswith("shard 1 failed: BrokenProcessPool")
    _assert_true_to_disk(out, report)
    counts, most = _counts(events)
    assert counts == {"done": 3, "failed": 1} and most == 4

    again = run_batch(requests, demo.sources, out, client_options(workers=2))
    statuses = {rid: line["status"] for rid, line in by_id(again).items()}
    assert statuses["R-ZOE"] == "done"
    assert {statuses[rid] for rid in ("R-JAN", "R-PIETER", "R-FATIMA")} == {"skipped"}
    assert verify_package(out / "packages/R-ZOE-access") == []


def test_the_correction_brings_the_counts_to_the_report() -> None:
    lines = [{"status": "done"}, {"status": "failed"}, {"status": "failed"}]
    # two requests counted done, but only one has its package
    assert progress_correction({"done": 2}, lines) == {"done": -1, "failed": 2}
    assert progress_correction({"done": 1, "failed": 2}, lines) == {}
    assert progress_correction({}, lines) == {"done": 1, "failed": 2}
