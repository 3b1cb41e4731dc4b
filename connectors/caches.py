"""Where connectors keep what they learnt about a source between searches.

One convention for every cache: the source's own setting (a path, relative to the
sources file), else ``$DISCOVER_CACHE_DIR/<name>``, else the user's cache directory
(``$XDG_CACHE_HOME`` or ``~/.cache``) under ``discover/<name>``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

from discover.errors import DiscoverError, SourceError
from discover.time_limit import patience


def cache_dir(configured: object, base_dir: Path, name: str) -> Path:
    """The directory of the cache ``name`` (``sql-profiles``, ``file-index``)."""
    if configured:
        path = Path(str(configured)).expanduser()
        return path if path.is_absolute() else base_dir / path
    root = os.environ.get("DISCOVER_CACHE_DIR")
    if root:
        return Path(root).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "discover" / name


def file_index_dir(connection: Mapping[str, Any], base_dir: Path) -> Path | None:
    """Where a file source keeps its index (``connection.index_cache``, else the cache
    directory's ``file-index``); None when ``connection.index`` switches it off."""
    if connection.get("index", True) in (False, "false", "no", "off"):
        return None
    return cache_dir(connection.get("index_cache"), base_dir, "file-index")


def canonical(value: Any) -> Any:
    """``value`` as plain data whose ``repr`` is the same in every process.

    A cache is valid for the settings it was built with; comparing ``repr`` of a
    mapping is not enough, because the order of a set's items changes with every
    interpreter's hash seed, so each new process would see "other settings" and
    rebuild. Sets are sorted, dataclasses become their fields, patterns their text.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (item.name, canonical(getattr(value, item.name)))
                for item in dataclasses.fields(value)
            ),
        )
    if isinstance(value, dict):
        return tuple(sorted((repr(canonical(k)), canonical(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return tuple(sorted((canonical(item) for item in value), key=repr))
    if isinstance(value, list | tuple):
        return tuple(canonical(item) for item in value)
    if isinstance(value, re.Pattern):
        return ("re", value.pattern, value.flags)
    if isinstance(value, enum.Enum):
        return (type(value).__name__, canonical(value.value))
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    return (type(value).__name__, repr(value))


def settings_digest(*parts: Any) -> str:
    """A digest of what a cache depends on besides its files, stable across processes."""
    text = repr(tuple(canonical(part) for part in parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- an index kept as one SQLite file ---------------------------------------------------


def private_file(path: Path, *, empty: bool = False) -> None:
    """Create ``path``'s directory (mode 0700) and the file (0600) if missing.

    ``empty``: the file is emptied too (a new index written over a leftover).
    """
    directory = path.parent
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    if empty or not path.exists():
        flags = os.O_CREAT | os.O_WRONLY | (os.O_TRUNC if empty else 0)
        os.close(os.open(path, flags, 0o600))
    os.chmod(path, 0o600)


#: how long a statement waits for a lock another connection (another process's search
#: or ``discover index build``) holds on an index file, unless told otherwise
BUSY_WAIT = 60.0
#: how long ``discover index status`` waits for such a lock before it says the index is
#: locked: it reads two counts, and a build's writes are let go of in moments
STATUS_WAIT = 5.0


class IndexBusy(DiscoverError):
    """Another process (a search, ``discover index build``) holds the index's lock and
    did not let go within the wait: the index is left as it is."""


#: what :class:`IndexBusy` says (warnings add which index, and what was done instead)
BUSY = "another search or index build holds its lock and did not let go in time"


def busy(exc: BaseException) -> bool:
    """Whether a SQLite error says another connection held the lock too long."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and (
        code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
    )


def busy_wait() -> float:
    """How long a search may wait now for a lock another process holds on its index:
    :data:`BUSY_WAIT`, and at most half the time its source has left
    (:func:`discover.time_limit.patience`).

    A lock held longer is someone else's hang (a build stuck on a file system that
    stopped answering): the source goes on without its index rather than being failed
    as timed out because of the other process.
    """
    return patience(BUSY_WAIT)


@contextlib.contextmanager
def unless_busy() -> Iterator[None]:
    """SQLite's "database is locked" inside the block raised as :class:`IndexBusy`.

    A busy index is not a damaged one: callers remove and rebuild an index whose file
    cannot be read, and must leave one that another process holds as it is.
    """
    try:
        yield
    except sqlite3.OperationalError as exc:
        if not busy(exc):
            raise
        raise IndexBusy(BUSY) from None


@contextlib.contextmanager
def busy_fails_the_build(source: str, path: Path) -> Iterator[None]:
    """An index another process keeps locked fails ``discover index build`` for the
    source as a transient error naming the index, which is left as it is: a later
    build may find it free."""
    try:
        yield
    except IndexBusy as exc:
        raise SourceError(source, f"file index {path}: {exc}", transient=True) from None


def be_patient(connection: sqlite3.Connection) -> None:
    """Let ``connection`` wait for another process's lock no longer than
    :func:`busy_wait` says now (a write after a long build, a search of a batch that
    keeps its index open, has less time left than when the connection was opened)."""
    connection.execute(f"PRAGMA busy_timeout = {int(busy_wait() * 1000)}")


@contextlib.contextmanager
def private_sqlite(path: Path, timeout: float = BUSY_WAIT) -> Iterator[sqlite3.Connection]:
    """A connection to the private index file ``path``, closed afterwards; each
    statement waits at most ``timeout`` seconds for another connection's lock.

    A scan may run in a worker thread (the source's time limit), hence no thread check.
    """
    private_file(path)
    connection = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    try:
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def patient_sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """:func:`private_sqlite` for a search or a build: another process's lock is waited
    for at most :func:`busy_wait`, then :class:`IndexBusy` (the index is left as it is)."""
    with unless_busy(), private_sqlite(path, busy_wait()) as connection:
        yield connection


def reset_for_settings(
    connection: sqlite3.Connection, schema: str, digest: str, tables: tuple[str, ...]
) -> str | None:
    """Create the tables; empty them when they were made for other settings.

    Returns why an existing index was emptied (None: it was new, or still valid).
    """
    connection.executescript(schema)
    row = connection.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    if row is not None and row[0] == digest:
        return None
    reason = None if row is None else "the mapping or its settings changed"
    with connection:
        for table in (*tables, "meta"):
            connection.execute(f"DELETE FROM {table}")  # noqa: S608 - the callers' names
        connection.execute("INSERT INTO meta VALUES ('settings', ?)", (digest,))
    return reason


def remove_sqlite(path: Path) -> bool:
    """Remove an index file and its journals; whether there was one."""
    existed = path.exists()
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
    return existed


def index_status(path: Path, keys_query: str) -> dict[str, object]:
    """How many files and keys an index file holds (``discover index status``); whether
    another process keeps it locked (``busy``), or it is damaged."""
    if not path.exists():
        return {"path": str(path), "exists": False, "files": 0, "keys": 0}
    try:
        with unless_busy(), private_sqlite(path, STATUS_WAIT) as connection:
            files = connection.execute("SELECT count(*) FROM files").fetchone()[0]
            keys = connection.execute(keys_query).fetchone()[0]
    except IndexBusy:
        return {"path": str(path), "exists": True, "busy": True}
    except sqlite3.DatabaseError:
        return {"path": str(path), "exists": True, "damaged": True}
    return {"path": str(path), "exists": True, "files": files, "keys": int(keys or 0)}
