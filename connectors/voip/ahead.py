"""The provisioning directory listed by a child process while the search starts.

A warm search of an indexed provisioning directory still lists every file and stamps
it (one ``lstat`` each) to see what changed: about a quarter of a second of one core
for 60,000 files. That work needs no identifier, yet it used to wait for the search's
first round. Meanwhile the search process spends its first half second loading the
other sources' libraries (SQLAlchemy, polars) on one core, the other idle.

So the search forks a child as soon as the provisioning source is open, before the
other sources' modules load; the child runs :func:`scan_directory` (the very same
walk, with the same globs) and writes the listing to a pipe, and the source's first
scan takes it from there instead of listing again. A thread could not do this: each
``lstat`` gives up the interpreter lock, and the importing thread would keep it for
its whole switch interval, one file per five milliseconds.

The child only reads the directory (it lists; no file is opened) and ends with
``os._exit``: no ``atexit`` handler, no inherited buffer is flushed twice. A fork is
made only while the process runs no other thread (a lock held by another thread
would stay held in the child). Anything that goes wrong (no ``fork`` on the
platform, the child killed or failing, a listing of other globs) yields None and the
scan lists the directory itself, as it always did.
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import os
import signal
import threading
from pathlib import Path

from connectors.voip.files import Listing, Unreadable, scan_directory

#: what the child listed: the directory and the include and exclude globs
_Key = tuple[Path, tuple[str, ...], tuple[str, ...]]

#: children not reaped yet: killed when the process ends (a listing hung on a network
#: file system whose scan was abandoned at its time limit must not outlive the search)
_unreaped: set[int] = set()


@atexit.register
def _kill_unreaped() -> None:
    for pid in list(_unreaped):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _payload(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> bytes:
    """The listing as marshal bytes: files, (path, reason) of each skipped entry, stamps,
    and the listing's digest (computed here, off the searching process's cores)."""
    listing = scan_directory(root, include, exclude)
    skipped = [(entry.relpath, entry.reason) for entry in listing.skipped]
    return marshal.dumps((listing.files, skipped, listing.stamp_values, listing.digest()), 2)


def _let_go_of_standard_streams() -> None:
    """Point the child's standard streams at /dev/null: a reader of the search's output
    (``discover search … | jq``) waits for the end of it, which the child would hold
    open while it lists."""
    quiet = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(quiet, descriptor)
    os.close(quiet)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


class AheadListing:
    """A listing being made by a child process; :meth:`take` it once, or :meth:`discard`."""

    def __init__(self, pid: int, descriptor: int, key: _Key) -> None:
        #: the child's process id (kept after the child was reaped)
        self.pid = pid
        self._pid: int | None = pid
        self._descriptor: int | None = descriptor
        self._key = key

    @classmethod
    def start(
        cls, root: Path, include: tuple[str, ...], exclude: tuple[str, ...]
    ) -> AheadListing | None:
        """Fork the child that lists ``root``; None when no child can be forked safely."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        reading, writing = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(reading)
            os.close(writing)
            return None
        if pid == 0:  # the child: list, write, leave without any of the parent's exits
            status = 1
            try:
                os.close(reading)
                _let_go_of_standard_streams()
                _write_all(writing, _payload(root, include, exclude))
                status = 0
            except BaseException:  # the parent lists the directory itself instead
                status = 1
            finally:
                os._exit(status)
        os.close(writing)
        _unreaped.add(pid)
        return cls(pid, reading, (root, include, exclude))

    def take(
        self, root: Path, include: tuple[str, ...], exclude: tuple[str, ...]
    ) -> Listing | None:
        """The child's listing of ``root`` with these globs once it has ended well; None
        when it listed something else, failed or was killed (the caller lists itself)."""
        descriptor = self._descriptor
        if descriptor is None or (root, include, exclude) != self._key:
            self.discard()
            return None
        chunks = []
        try:
            while chunk := os.read(descriptor, 1 << 20):
                chunks.append(chunk)
        except OSError:
            self.discard()
            return None
        if self._reap(kill=False) != 0:
            self.discard()
            return None
        self.discard()
        try:
            # bytes from our own child, through a pipe only it and this process hold
            files, skipped, values, digest = marshal.loads(b"".join(chunks))  # noqa: S302
        except (EOFError, ValueError, TypeError):
            return None
        return Listing(
            files=files,
            skipped=[Unreadable(relpath, reason) for relpath, reason in skipped],
            stamp_values=values,
            known_digest=digest,
        )

    def discard(self) -> None:
        """Close the pipe and reap the child (killed first when still running)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
        self._reap(kill=True)

    def _reap(self, *, kill: bool) -> int | None:
        """The child's exit status once it has ended (waited for); None if already reaped."""
        pid = self._pid
        if pid is None:
            return None
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = -1
        self._pid = None
        _unreaped.discard(pid)
        return os.waitstatus_to_exitcode(status) if status >= 0 else -1
