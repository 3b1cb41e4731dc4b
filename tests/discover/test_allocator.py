"""polars's allocator is told to give freed memory back at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from discover import allocator

ROOT = Path(__file__).resolve().parents[2]

#: a child that allocates about 800 MB in polars, drops it, and prints how much of it
#: its resident memory gave back (MB)
CHILD = """
import re, sys
if sys.argv[1] == "configured":
    from discover.allocator import configure
    configure()
import polars as pl

def resident() -> int:
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)) // 1024

frame = pl.select((pl.int_range(0, 50_000_000, dtype=pl.Int64) * 3).alias("x"))
more = frame.with_columns(pl.col("x") + 1)
peak = resident()
del frame, more
print(peak - resident())
"""


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, allocator.GIVE_BACK_AT_ONCE),
        # inherited from a parent that loaded polars: taken as unset
        (
            "dirty_decay_ms:500,muzzy_decay_ms:1000",
            "dirty_decay_ms:500,muzzy_decay_ms:1000," + allocator.GIVE_BACK_AT_ONCE,
        ),
        ("narenas:2", "narenas:2," + allocator.GIVE_BACK_AT_ONCE),
        # a decay somebody chose: left as it is
        ("dirty_decay_ms:2000", "dirty_decay_ms:2000"),
        ("muzzy_decay_ms:0,narenas:2", "muzzy_decay_ms:0,narenas:2"),
    ],
)
def test_configure_gives_memory_back_unless_a_decay_was_chosen(
    monkeypatch: pytest.MonkeyPatch, before: str | None, after: str
) -> None:
    if before is None:
        monkeypatch.delenv(allocator.VARIABLE, raising=False)
    else:
        monkeypatch.setenv(allocator.VARIABLE, before)
    allocator.configure()
    assert os.environ[allocator.VARIABLE] == after


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("inherited", [None, "dirty_decay_ms:500,muzzy_decay_ms:1000"])
def test_freed_memory_is_given_back_to_the_system(inherited: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != allocator.VARIABLE}
    if inherited is not None:  # started by a process that loaded polars
        env[allocator.VARIABLE] = inherited
    env["PYTHONPATH"] = str(ROOT)
    given_back = int(
        subprocess.run(
            [sys.executable, "-c", CHILD, "configured"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert given_back > 600  # of about 800 MB; polars's default keeps nearly all of it
