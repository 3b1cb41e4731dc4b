"""Free memory of the C heap goes back to the system when a native reader is done."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from connectors import heap
from discover.time_limit import run_within

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


# -- one index build at a time ------------------------------------------------------------


def _build_until(entered: threading.Event, leave: threading.Event) -> None:
    """Another source's build: it has the turn until ``leave`` is set."""
    with heap.index_build():
        entered.set()
        leave.wait()


def _holding() -> tuple[threading.Thread, threading.Event]:
    entered, leave = threading.Event(), threading.Event()
    holder = threading.Thread(target=_build_until, args=(entered, leave), daemon=True)
    holder.start()
    entered.wait()
    return holder, leave


def _turn_in_another_thread(wait: float) -> bool:
    turns: list[bool] = []

    def build() -> None:
        with heap.index_build(wait=wait) as turn:
            turns.append(turn)

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    return turns[0]


def test_a_build_does_not_get_the_turn_while_another_builds() -> None:
    holder, leave = _holding()
    try:
        assert _turn_in_another_thread(wait=0) is False
    finally:
        leave.set()
        holder.join()
    assert _turn_in_another_thread(wait=0) is True


def test_a_build_that_never_ends_does_not_keep_the_others_waiting() -> None:
    """A build abandoned at its source's time limit (a hung file system) keeps the
    turn: the next build goes ahead after its wait, side by side."""
    holder, leave = _holding()
    try:
        with heap.index_build(wait=0.01) as turn:
            assert turn is False  # not given, and yet here
    finally:
        leave.set()
        holder.join()


class _Source:
    """Stands in for the connector whose work runs under a time limit."""


def test_a_build_waits_at_most_half_the_time_its_source_has_left() -> None:
    """A source with a time limit under the minute a build waits for another is not
    failed because another source's build hangs: it goes ahead with half its time."""
    holder, leave = _holding()

    def build() -> tuple[bool, float]:
        started = time.monotonic()
        with heap.index_build() as turn:
            return turn, time.monotonic() - started

    try:
        turn, waited = run_within(_Source(), 2, build)
    finally:
        leave.set()
        holder.join()
    assert turn is False and 0.9 < waited < 1.5


def test_the_turn_is_given_up_when_a_build_fails() -> None:
    with pytest.raises(ValueError), heap.index_build():
        raise ValueError("the file could not be read")
    assert _turn_in_another_thread(wait=0) is True


def test_a_build_inside_a_build_of_the_same_thread_is_not_kept_waiting() -> None:
    with heap.index_build(wait=0) as outer, heap.index_build(wait=0) as inner:
        assert outer and inner
    assert _turn_in_another_thread(wait=0) is True


def test_builds_running_counts_every_build_until_it_ends() -> None:
    assert not heap.builds_running()
    with heap.building():
        with heap.building():
            assert heap.builds_running()
        assert heap.builds_running()
    assert not heap.builds_running()
    with pytest.raises(RuntimeError), heap.building():
        raise RuntimeError("a failed build")
    assert not heap.builds_running()  # counted out however it ends


def test_a_tabular_index_build_counts_as_a_build() -> None:
    with heap.index_build(wait=1):
        assert heap.builds_running()
    assert not heap.builds_running()
