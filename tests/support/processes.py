"""Child processes in tests: whether one was reaped, whether one still runs, what one
prints without a request register."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def reaped(pid: int) -> bool:
    """Whether this process's child ``pid`` was waited for (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and waiting to be reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def output_without_a_register(program: str, cwd: Path) -> str:
    """What ``python -c program`` prints, run in ``cwd`` with no request register set
    up (``DISCOVER_DESK_DB`` and ``DISCOVER_DATA`` left out of its environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISCOVER_DESK_DB", "DISCOVER_DATA")}
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout
