"""A SQLite file locked by another process, as another search or ``discover index build``
that hangs while writing a file index keeps it locked."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_HOLDER = (
    "import sqlite3, sys\n"
    "connection = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "connection.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextlib.contextmanager
def locked(database: Path) -> Iterator[None]:
    """``database`` exclusively locked by a process of its own until the block ends.

    The block starts once the process says it holds the lock (a pipe, not a pause) and
    the process has ended, letting go, when the block is left.
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.communicate(timeout=30)  # stdin closed: it ends and lets go
