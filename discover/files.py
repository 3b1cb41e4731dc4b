"""Writing personal data to disk: atomically, and readable by the owner only.

Nothing half-written is ever visible under its final name: data goes to a temporary
file in the same directory, is flushed to disk, and is renamed into place; a whole
directory is built under a hidden name beside its final place and swapped in with
one rename. Files are created 0600 and directories 0700 whatever the umask says,
but only directories discover creates: one that existed keeps its mode (it may be a
shared directory others rely on).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)-[0-9a-f]+$")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents 0700; leave existing directories alone.

    The mode is set explicitly on each directory made here (``mkdir``'s mode is
    masked by the umask). A directory that existed is not touched: ``--out /srv/spool``
    must not turn a shared 1777 directory into a private one. A path under a regular
    file raises NotADirectoryError naming it.
    """
    missing: list[Path] = []
    current = Path(path)
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue  # made meanwhile by someone else: not ours to chmod
        os.chmod(directory, DIR_MODE)
    if not Path(path).is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(final: Path) -> list[Path]:
    """Remove staging / moved-aside directories of ``final`` whose writer has died."""
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    for entry in final.parent.iterdir():
        match = _LEFTOVER.match(entry.name)
        if match and match["name"] == final.name and not _alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def staging_dir(final: Path) -> Path:
    """A new private directory beside ``final`` to build its replacement in."""
    private_dir(final.parent)
    remove_leftovers(final)
    staging = final.parent / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(staging, DIR_MODE)
    os.chmod(staging, DIR_MODE)
    return staging


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2``); False when the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    flags = ctypes.c_uint(_RENAME_EXCHANGE)
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # the file system cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(b))


class AppearedMeanwhile(FileExistsError):
    """Another writer put a directory in the final place while this one was building."""


def swap_in(staging: Path, final: Path, *, replace: bool) -> None:
    """Move a finished ``staging`` directory to ``final`` in one step.

    An existing ``final`` is exchanged with ``staging`` atomically when ``replace``
    (then removed), so that the final name holds the old whole or the new whole at
    every moment; where the system cannot exchange, the old one is moved aside first
    (a crash in between leaves nothing under the final name, never a mixture).
    Without ``replace``, a ``final`` that appeared after the caller checked raises
    AppearedMeanwhile.
    """
    try:
        if os.path.lexists(final):
            if not replace:
                raise AppearedMeanwhile(errno.EEXIST, "appeared meanwhile", str(final))
            if exchange(staging, final):
                fsync_dir(final.parent)
                shutil.rmtree(staging, ignore_errors=True)  # now holds the old one
                return
            aside = final.parent / f".{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.rename(final, aside)
            os.rename(staging, final)
            fsync_dir(final.parent)
            shutil.rmtree(aside, ignore_errors=True)
            return
        os.rename(staging, final)
        fsync_dir(final.parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and not isinstance(exc, AppearedMeanwhile):
            raise AppearedMeanwhile(errno.EEXIST, "appeared meanwhile", str(final)) from exc
        raise


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path``; on success fsync and rename it into place."""
    private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.fchmod(fd, FILE_MODE)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if exc.filename is None:  # a failed write (disk full): say which file
            code = exc.errno
            if code is None:  # Arrow's I/O errors carry the number in their text only
                found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
                code = int(found[1]) if found else None
            if code is not None:
                raise OSError(code, os.strerror(code), str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, 0600."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_json(path: Path, document: Any) -> None:
    """Write a JSON document atomically, 0600, UTF-8, keys in the order given."""
    text = json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"
    write_bytes(path, text.encode("utf-8"))


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
