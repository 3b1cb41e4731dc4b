"""Worker processes stop with the process that started them.

A batch's workers write packages; if the coordinator is killed (kill -9, an OOM
kill, a closed terminal) nobody would collect their results, and they would go on
writing until their shards are done. Each worker therefore asks Linux to send it
SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), and, on every platform, runs a
watchdog thread that exits as soon as its parent process is no longer the one that
started it. A killed worker leaves nothing half-written: packages are renamed into
place whole, and the next run clears its staging directories.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1
#: how often the watchdog looks at its parent, in seconds
WATCH_INTERVAL = 0.5


def _parent_death_signal() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    stopped = threading.Event()
    while not stopped.wait(WATCH_INTERVAL):
        if os.getppid() != parent:
            os._exit(1)  # the parent is gone: nobody collects this work


def stop_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` (the pid that started it) ends."""
    _parent_death_signal()
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()
