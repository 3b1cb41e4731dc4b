"""Memory freed by a reader or an index build, given back to the system before the next step.

calamine (through fastexcel) parses a whole workbook sheet into buffers of the C
library's allocator: about 150 MB for a 100,000-row sheet, freed once the sheet is a
frame. glibc keeps freed memory in its heap for later ``malloc`` calls, but what comes
next (polars, the index) allocates through jemalloc, which cannot reuse it: the two
add up. ``malloc_trim`` returns that free memory (the first search of a 100,000-row
inventory peaked at 345 MB, 295 MB with it). On a C library without it (macOS, musl)
nothing is done.

Building a file index is the one step of a search that reads a whole source, and the
first search of an estate builds every source's: :func:`index_build` lets one build at
a time hold its file in memory (the engine scans two sources side by side), and gives
what the build freed back before the next one starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import threading
from collections.abc import Callable, Iterator

from discover.time_limit import patience

#: how long a build waits for another one before it goes ahead side by side: the lock
#: saves memory and never decides a result, so a build that hangs (a file system that
#: stopped answering, a source abandoned at its time limit) delays the others at most
#: this long, and at most half the time a waiting source has left (its time limit, see
#: :func:`discover.time_limit.patience`): that source is not failed because of the other
BUILD_WAIT = 60.0

_builds = threading.RLock()
#: index builds (of every kind) running now, for :func:`builds_running`
_running = 0
_counting = threading.Lock()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name or "libc.so.6")
        trim = library.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def give_back_freed() -> None:
    """Return the C heap's free memory to the system (glibc); elsewhere nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def release() -> None:
    """Collect what only cycles still hold and give the freed memory back: after a
    build, so that what it read does not stay resident beside the next source's."""
    gc.collect()
    give_back_freed()


@contextlib.contextmanager
def building() -> Iterator[None]:
    """Mark a step that reads a whole source to (re)build its index, while it runs.

    The engine starts no scan ahead of its round while one runs
    (:func:`builds_running`): a first search would otherwise build the next round's
    indexes beside this round's, and hold both in memory.
    """
    global _running
    with _counting:
        _running += 1
    try:
        yield
    finally:
        with _counting:
            _running -= 1


def builds_running() -> bool:
    """Whether an index build (:func:`building`) runs in this process now."""
    return _running > 0


@contextlib.contextmanager
def index_build(wait: float | None = None) -> Iterator[bool]:
    """One index build at a time in this process; what it freed given back after.

    Waits at most ``wait`` seconds (default :data:`BUILD_WAIT`, or half the time the
    source building has left when that is less) for a build running in another
    thread, then goes ahead anyway (yields whether it had the turn). The turn is given
    up however the build ends, an error included; a build of the same thread inside it
    is not kept waiting.
    """
    turn = _builds.acquire(timeout=patience(BUILD_WAIT) if wait is None else wait)
    try:
        with building():
            yield turn
    finally:
        try:
            release()  # before the next build starts
        finally:
            if turn:
                _builds.release()
