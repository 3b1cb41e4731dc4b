"""A batch killed with SIGKILL halfway resumes without redoing or duplicating work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batch_support import CLIENT_ARGS, by_id, client_options, package_dirs, write_csv
from support import synthetic_estate as synthetic
from support.synthetic_estate import SynthEstate

from discover.batch import run_batch
from discover.batch.layout import MARKER
from exporters.package import verify_package

CLI = [sys.executable, "-c", "from discover.cli import main; main()"]


def _markers(out: Path) -> list[Path]:
    return sorted((out / "cases").glob(f"*/{MARKER}")) if (out / "cases").is_dir() else []


def test_sigkill_halfway_then_resume(synth: SynthEstate, tmp_path: Path) -> None:
    rows = synthetic.requests_rows(list(range(1, 300, 5))[:60])
    requests = write_csv(tmp_path / "requests.csv", rows)
    out = tmp_path / "out"
    command = [
        *CLI,
        "batch",
        str(requests),
        *CLIENT_ARGS,
        "--sources",
        str(synth.sources),
        "--out",
        str(out),
    ]
    process = subprocess.Popen(
        [*command, "--shard-size", "10", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_markers(out)) < 12 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "the batch ended before it could be killed halfway"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    # What the killed run left: complete packages under final names, nothing half-written.
    finished = {marker.parent.name for marker in _markers(out)}
    assert 12 <= len(finished) < 60
    visible = [name for name in package_dirs(out) if not name.startswith(".")]
    for name in visible:
        assert verify_package(out / "packages" / name) == [], name
    before = {
        name: (out / "packages" / f"{name}-access" / "manifest.json").stat().st_mtime_ns
        for name in finished
    }

    report = run_batch(requests, synth.sources, out, client_options(shard_size=10))
    statuses = {rid: line["status"] for rid, line in by_id(report).items()}
    assert {rid for rid, status in statuses.items() if status == "skipped"} == finished
    assert {rid for rid, status in statuses.items() if status == "done"} == {
        row["request_id"] for row in rows
    } - finished
    for name, mtime in before.items():  # not redone: the packages are the same files
        assert (out / "packages" / f"{name}-access" / "manifest.json").stat().st_mtime_ns == mtime
    names = package_dirs(out)
    assert names == sorted(f"{row['request_id']}-access" for row in rows)  # no leftovers
    assert all(verify_package(out / "packages" / name) == [] for name in names)
    assert len(list((out / "cases").iterdir())) == 60
