"""The garbage collector of a process that runs one command and exits.

A search starts by making objects that live until the exit: the modules of polars,
pyarrow and SQLAlchemy, the sources and the mappings. The collector would trace them
again in every full collection while they load, during the scans and three more times
at the exit. In the console script (:func:`discover.cli.main`) it therefore waits while
a search starts (:func:`pause`), leaves what has loaded out of its traces once the
search is ready to scan (:func:`settle`), and at the exit traces everything once, so
that every unreachable object is still finalized as before, then leaves it all to the
interpreter's exit (:func:`done`).

A caller of the click group itself (the tests, a program that embeds the commands)
keeps its collector as it is: :func:`pause` and :func:`settle` do nothing there.
"""

from __future__ import annotations

import gc

#: whether this process runs one command and exits (set by the console script only)
_one_command = False
#: whether the collector waits for a starting command (between pause and settle)
_paused = False


def one_command() -> None:
    """Say that this process runs one command and exits (the console script)."""
    global _one_command
    _one_command = True


def pause() -> None:
    """A command starts: the collector waits until :func:`settle` (console script only)."""
    global _paused
    if _one_command and not _paused and gc.isenabled():
        gc.disable()
        _paused = True


def settle() -> None:
    """What has loaded stays until the exit: out of the collector's traces from now on."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()
        gc.freeze()


def done() -> None:
    """The command is done: every unreachable object collected (and finalized) once,
    the rest left to the interpreter's exit without tracing it again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
