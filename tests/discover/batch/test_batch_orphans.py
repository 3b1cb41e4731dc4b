"""Workers of `batch --workers 2` stop when their parent is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from batch_support import CLIENT_ARGS, write_csv
from support import synthetic_estate as synthetic
from support.synthetic_estate import SynthEstate

CLI = [sys.executable, "-c", "from discover.cli import main; main()"]


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    """The pool's worker processes (not multiprocessing's resource tracker)."""
    return [
        child for child in parent.children() if "resource_tracker" not in " ".join(child.cmdline())
    ]


def test_workers_stop_when_the_batch_is_killed(synth: SynthEstate, tmp_path: Path) -> None:
    rows = synthetic.requests_rows(list(range(1, 300, 3))[:90])
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
        [*command, "--shard-size", "5", "--workers", "2", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    parent = psutil.Process(process.pid)
    workers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
            workers = _workers(parent)
            time.sleep(0.05)
        while not (out / "packages").is_dir() or not any((out / "packages").iterdir()):
            assert process.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert len(workers) >= 2, "no pool of workers started"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        _gone, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == [], f"workers still running after their parent was killed: {alive}"
    finally:
        for leftover in [*workers, parent]:
            if leftover.is_running():
                leftover.kill()
    done = sorted(p.name for p in (out / "packages").iterdir() if not p.name.startswith("."))
    time.sleep(1)  # nobody writes any more
    assert (
        sorted(p.name for p in (out / "packages").iterdir() if not p.name.startswith(".")) == done
    )
    assert len(done) < len(rows)
