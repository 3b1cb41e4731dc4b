"""How a one-command process ends: without the interpreter's teardown, when it can.

When a search has written its case and printed its summary, all that is left is the
interpreter's teardown: every module of polars, pyarrow and SQLAlchemy cleared and
every object freed one by one, then a last collection. On a large estate that took
0.1–0.2 s, about a tenth of a warm search, for nothing: the process is about to go.

A command whose outputs are all written and closed says so (:func:`outputs_closed`).
The console script then ends the process itself (:func:`leave`): it flushes the
standard streams, runs the ``atexit`` handlers (logging's flush, those of a program
that embeds the command line) and calls ``os._exit`` with the command's exit code.
It does not when another thread that is not a daemon is still running (its work is
not done; the interpreter would wait for it), when a standard stream cannot be
flushed (the normal exit reports that), or when the command did not say so: every
other command ends as Python ends.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

#: set by a command once everything it writes is written and closed
_closed = False


def outputs_closed() -> None:
    """Say that the command's files are all written and closed (the console script
    may then end the process without the interpreter's teardown)."""
    global _closed
    _closed = True


def reset() -> None:
    """Forget :func:`outputs_closed` (a caller that runs several commands in-process)."""
    global _closed
    _closed = False


def _exit_status(code: object) -> int:
    """The process's exit status for ``SystemExit(code)``, as Python computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return 1


def _others_running() -> bool:
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def leave(code: object) -> None:
    """End the process now with ``code`` (a ``SystemExit`` code) if the command said its
    outputs are closed and nothing else is running; otherwise return (the caller goes
    on to the normal exit)."""
    if not _closed or _others_running():
        return
    try:
        if isinstance(code, str):
            print(code, file=sys.stderr)  # as the interpreter prints SystemExit("text")
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # a closed pipe: the normal exit reports it as Python does
    atexit._run_exitfuncs()  # the handlers Python would run at its exit
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # what an atexit handler printed to a closed pipe is lost as it would be
    os._exit(_exit_status(code))
