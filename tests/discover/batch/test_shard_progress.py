"""A shard's progress sink is called by one scan thread at a time."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from discover.batch.shard import one_at_a_time


def test_events_from_scans_side_by_side_reach_the_sink_one_at_a_time() -> None:
    inside = 0
    most = 0
    both = threading.Barrier(2)

    def sink(_event: dict[str, Any]) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait(timeout=0.3)  # the other thread comes in here, were it let in
        inside -= 1

    serialised = one_at_a_time(sink)
    assert serialised is not None
    threads = [
        threading.Thread(target=serialised, args=({"event": "scan", "n": n},)) for n in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert one_at_a_time(None) is None
