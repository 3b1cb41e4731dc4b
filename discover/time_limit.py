"""A wall-clock limit on each source's work in a search.

A source can hang where no timeout of its own reaches: a file system that stops
answering, a driver blocked in a read, a server that accepts and never replies. The
engine must still finish with the other sources and say which one did not answer.

Python cannot stop a thread that is blocked in a system call, so the work runs in a
daemon thread and the engine waits for it at most the time left; when the limit
passes, the thread is abandoned (it cannot keep the process alive: it is a daemon)
and so is the connector it was using: it is never called or closed again, because
its state belongs to that thread now. The connectors' own timeouts (SQL statement
and lock timeouts, LDAP receive timeouts, non-blocking opens of files) keep this a
last resort.

A source's work may wait for someone else's: another source's index build (they
take turns, to save memory) or a lock another process holds on its index. Such a
wait is bounded by :func:`patience`, which the work asks in its own thread: at most
half the time its source has left, so that a source is never failed as timed out
because another one hangs; the one that hangs is failed at its own limit.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: connectors whose work was abandoned: never used or closed again
_abandoned: weakref.WeakSet[Any] = weakref.WeakSet()
#: the deadline (``time.monotonic``) of the work running in a thread, if it has one
_limits = threading.local()


class TimeLimitExceeded(Exception):
    """The work did not finish within its limit (and was abandoned)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no result within {seconds:g} s")
        self.seconds = seconds


def limit_of(connector: object, default: float) -> float:
    """The source's own ``time_limit`` (seen through a wrapper's ``inner``), else ``default``."""
    while connector is not None:
        source = getattr(connector, "source", None)
        if source is not None:
            return getattr(source, "time_limit", None) or default
        connector = getattr(connector, "inner", None)
    return default


def abandoned(owner: object) -> bool:
    """Whether work of ``owner`` was abandoned earlier (it is unusable since)."""
    try:
        return owner in _abandoned
    except TypeError:  # not weak-referenceable: never registered
        return False


def run_within(owner: object, seconds: float, work: Callable[[], T]) -> T:
    """``work()``'s result or exception, if it comes within ``seconds``.

    Otherwise TimeLimitExceeded, and ``owner`` (the connector the work uses) is
    marked abandoned; the work of an owner abandoned earlier is refused at once.
    """
    if seconds <= 0 or abandoned(owner):
        _abandon(owner)
        raise TimeLimitExceeded(0)
    outcome: dict[str, Any] = {}
    done = threading.Event()
    deadline = time.monotonic() + seconds

    def target() -> None:
        _limits.deadline = deadline
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the waiting thread as it is
            outcome["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="discover-source", daemon=True)
    worker.start()
    if not done.wait(seconds):
        _abandon(owner)
        raise TimeLimitExceeded(seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def time_left() -> float | None:
    """The seconds the work running in this thread has left of its limit (see
    :func:`run_within`); None when it runs under none (``discover index build``)."""
    deadline = getattr(_limits, "deadline", None)
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def patience(longest: float) -> float:
    """How long the work running in this thread may wait for someone else's work
    (another source's index build, a lock another process holds): at most
    ``longest``, and at most half the time it has left.

    Waiting longer would make the waiting source time out, and be named as the one
    that did not answer, because of the other; after giving up it goes on without
    what it waited for (it builds beside the other build, it reads every file instead
    of its index) with half its time still left.
    """
    left = time_left()
    return longest if left is None else min(longest, left / 2)


def _abandon(owner: object) -> None:
    with contextlib.suppress(TypeError):  # connectors are weak-referenceable
        _abandoned.add(owner)
