"""Memory a native reader freed, given back to the system before the next step.

calamine (through fastexcel) parses a whole workbook sheet into buffers of the C
library's allocator: about 150 MB for a 100,000-row sheet, freed once the sheet is a
frame. glibc keeps freed memory in its heap for later ``malloc`` calls, but what comes
next (polars, the index) allocates through jemalloc, which cannot reuse it: the two
add up. ``malloc_trim`` returns that free memory (the first search of a 100,000-row
inventory peaked at 345 MB, 295 MB with it). On a C library without it (macOS, musl)
nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


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
