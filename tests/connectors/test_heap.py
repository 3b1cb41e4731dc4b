"""Free memory of the C heap goes back to the system when a native reader is done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors import heap

ROOT = Path(__file__).resolve().parents[2]

#: a child that leaves the C heap full of holes (every tenth 4 KB block kept, the rest
#: freed), then prints how much resident memory giving back returned (MB)
CHILD = """
import re
from connectors.heap import give_back_freed

def resident() -> int:
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)) // 1024

blocks = [bytearray(4096) for _ in range(100_000)]
kept = blocks[::10]
del blocks
before = resident()
give_back_freed()
print(before - resident())
"""


@pytest.mark.skipif(heap._malloc_trim() is None, reason="the C library has no malloc_trim")
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_freed_heap_memory_is_given_back() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    returned = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert int(returned) > 200  # of about 360 MB freed; glibc alone returns none of it
