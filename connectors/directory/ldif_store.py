"""An LDIF export's persistent index: normalised values -> entry offsets, on disk.

Reading a large export (a hundred thousand entries) costs seconds on every search;
the export changes when a new one is written. The index one pass builds is therefore
kept in one SQLite file per source under the cache directory, stamped with the
export's size, ``mtime_ns`` and inode and with the mapping it was built for: a later
search whose stamp matches answers from it with one indexed look-up per identifier
and reads the matched entries from their offsets (verifying them as before); any
other stamp builds it again. Memory holds neither the index nor the entries.

The index holds normalised identifier values, DN keys of relations, offsets, entry
locations, attribute names and the export's warnings: never an entry's other values.
The directory is created with mode 0700 and the file with mode 0600; an index that
cannot be read is removed and built again, with a warning.

The index file is never written in place (a new one is written beside it and moved
over it), so searches and builds only read it, and a lock on it is another program's
(a backup tool, a ``sqlite3`` shell). That is not damage: it is waited for at most a
minute, and at most half the time the source has left
(:func:`connectors.caches.busy_wait`), then :class:`~connectors.caches.IndexBusy`
leaves it as it is, and the search reads the export whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from connectors import caches

#: bump when what is stored changes: an index of another format is built again
FORMAT = 1
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ldif_values (key TEXT, entry_type TEXT, offset INTEGER);
CREATE TABLE ldif_references (key TEXT, offset INTEGER);
CREATE TABLE ldif_locations (entry_type TEXT, offset INTEGER, location TEXT,
    PRIMARY KEY (entry_type, offset));
"""
_INDEXES = """
CREATE INDEX ldif_values_key ON ldif_values (key);
CREATE INDEX ldif_references_key ON ldif_references (key);
"""

Stamp = tuple[int, int, int]  # size, mtime_ns, inode
DnKey = tuple[str, ...]


class Lookups(Protocol):
    """What a scan asks of an LDIF index, in memory or on disk."""

    warnings: list[str]
    truncated: bool
    seen_attributes: dict[str, set[str]]
    bases_used: set[tuple[str, int]]

    def candidates(self, kind: str, value: str) -> Iterable[tuple[str, int]]: ...

    def referrers(self, entry_type: str, attribute: str, reference: DnKey) -> Iterable[int]: ...

    def location(self, entry_type: str, offset: int) -> str: ...


def stamp_of(path: Path) -> Stamp | None:
    """The export's size, modification time and inode; None when it cannot be examined."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def index_path(directory: Path, source: str, export: Path) -> Path:
    """One index file per source and export."""
    digest = hashlib.sha256(f"{source}\n{export}".encode()).hexdigest()[:24]
    return directory / f"ldif-{digest}.sqlite"


def _value_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def _reference_key(entry_type: str, attribute: str, reference: DnKey) -> str:
    return json.dumps([entry_type, attribute, *reference], ensure_ascii=False)


def clear(path: Path) -> bool:
    """Remove an index file; whether there was one."""
    existed = path.exists()
    for suffix in ("", "-journal"):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")
    for leftover in path.parent.glob(f"{path.name}.*.tmp*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    return existed


class IndexWriter:
    """Writes an index while the export is read, a batch at a time.

    A hundred thousand entries hold half a million values: kept in dictionaries until
    the pass ends they cost hundreds of megabytes; written as they come, a batch. The
    rows go to a private temporary file, moved over the old index when the pass ends.
    """

    BATCH = 20_000

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # one per writer
        caches.private_file(self.temporary, empty=True)
        self._connection = sqlite3.connect(self.temporary)
        self._connection.executescript(_SCHEMA)
        self._values: list[tuple[str, str, int]] = []
        self._references: list[tuple[str, int]] = []
        self._locations: list[tuple[str, int, str]] = []

    def value(self, kind: str, value: str, entry_type: str, offset: int) -> None:
        self._values.append((_value_key(kind, value), entry_type, offset))
        if len(self._values) >= self.BATCH:
            self._flush()

    def reference(self, entry_type: str, attribute: str, reference: DnKey, offset: int) -> None:
        self._references.append((_reference_key(entry_type, attribute, reference), offset))
        if len(self._references) >= self.BATCH:
            self._flush()

    def location(self, entry_type: str, offset: int, location: str) -> None:
        self._locations.append((entry_type, offset, location))
        if len(self._locations) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        with self._connection:
            self._connection.executemany("INSERT INTO ldif_values VALUES (?, ?, ?)", self._values)
            self._connection.executemany(
                "INSERT INTO ldif_references VALUES (?, ?)", self._references
            )
            self._connection.executemany(
                "INSERT INTO ldif_locations VALUES (?, ?, ?)", self._locations
            )
        self._values, self._references, self._locations = [], [], []

    def finish(self, stamp: Stamp | None, settings: str, index: Lookups, *, keep: bool) -> Path:
        """Write the pass's findings and the look-up indexes; the file to open.

        ``keep``: move it over the index of this source (the export did not change
        while it was read); otherwise the temporary file is returned, to be opened and
        removed by the caller.
        """
        self._flush()
        meta = {
            "format": str(FORMAT),
            "stamp": json.dumps(list(stamp) if stamp else None),
            "settings": settings,
            "warnings": json.dumps(index.warnings, ensure_ascii=False),
            "truncated": json.dumps(index.truncated),
            "seen": json.dumps({k: sorted(v) for k, v in index.seen_attributes.items()}),
            "bases": json.dumps(sorted(index.bases_used)),
        }
        with self._connection:
            self._connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            self._connection.executescript(_INDEXES)
        self._connection.close()
        if not keep:
            return self.temporary
        os.replace(self.temporary, self.path)
        return self.path

    def abort(self) -> None:
        """Drop what was written (the pass failed)."""
        with contextlib.suppress(sqlite3.Error):
            self._connection.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temporary)


class StoredIndex:
    """An index read from disk: each look-up is one query, nothing else in memory.

    A lock another process holds on the file is waited for at most
    :func:`connectors.caches.busy_wait`, then :class:`~connectors.caches.IndexBusy`
    (opening it, or any look-up: a batch keeps it open across searches).
    """

    def __init__(self, path: Path) -> None:
        # a scan may run in a worker thread (the source's time limit); one at a time
        self._connection = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=caches.busy_wait()
        )
        try:
            with caches.unless_busy():
                meta = dict(self._connection.execute("SELECT key, value FROM meta"))
            self.meta = meta
            self.warnings: list[str] = json.loads(meta["warnings"])
            self.truncated: bool = json.loads(meta["truncated"])
            self.seen_attributes = {k: set(v) for k, v in json.loads(meta["seen"]).items()}
            self.bases_used = {(name, position) for name, position in json.loads(meta["bases"])}
        except BaseException:
            self._connection.close()
            raise

    def be_patient(self) -> None:
        """Wait for another process's lock no longer than
        :func:`connectors.caches.busy_wait` says now (a search of a batch that opened the
        index earlier has its own time left)."""
        caches.be_patient(self._connection)

    def candidates(self, kind: str, value: str) -> list[tuple[str, int]]:
        with caches.unless_busy():
            rows = self._connection.execute(
                "SELECT entry_type, offset FROM ldif_values WHERE key = ?",
                (_value_key(kind, value),),
            )
            return [(name, offset) for name, offset in rows]

    def referrers(self, entry_type: str, attribute: str, reference: DnKey) -> list[int]:
        key = _reference_key(entry_type, attribute, reference)
        with caches.unless_busy():
            rows = self._connection.execute(
                "SELECT offset FROM ldif_references WHERE key = ?", (key,)
            )
            return [offset for (offset,) in rows]

    def location(self, entry_type: str, offset: int) -> str:
        with caches.unless_busy():
            row = self._connection.execute(
                "SELECT location FROM ldif_locations WHERE entry_type = ? AND offset = ?",
                (entry_type, offset),
            ).fetchone()
        if row is None:
            raise sqlite3.DatabaseError(f"no location for offset {offset}")
        return str(row[0])

    def close(self) -> None:
        self._connection.close()


def load(path: Path, stamp: Stamp | None, settings: str) -> StoredIndex | None:
    """The stored index when it was built from this export with these settings.

    None when there is none or it is stale; sqlite3.DatabaseError, KeyError or
    ValueError when it is damaged; :class:`~connectors.caches.IndexBusy` when another
    process keeps it locked (it is not damaged).
    """
    if stamp is None or not path.is_file():
        return None
    stored = StoredIndex(path)
    meta = stored.meta
    if (
        meta.get("format") != str(FORMAT)
        or meta.get("settings") != settings
        or json.loads(meta.get("stamp", "null")) != list(stamp)
    ):
        stored.close()
        return None
    return stored


def status(path: Path) -> dict[str, object]:
    """What the index file holds (for operators); whether another process keeps it
    locked (``busy``), or it is damaged."""
    if not path.is_file():
        return {"path": str(path), "exists": False, "values": 0}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=caches.STATUS_WAIT)
    try:
        with caches.unless_busy():
            values = connection.execute("SELECT count(*) FROM ldif_values").fetchone()[0]
    except caches.IndexBusy:
        return {"path": str(path), "exists": True, "busy": True}
    except sqlite3.DatabaseError:
        return {"path": str(path), "exists": True, "damaged": True}
    finally:
        connection.close()
    return {"path": str(path), "exists": True, "values": values}
