"""Child processes in tests: whether one was reaped, whether one still runs."""

from __future__ import annotations

import os
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
