"""A tabular source's persistent index: which rows of which files hold which identifier.

Reading every CSV, workbook and Parquet file of a source for each search costs a full
parse of each; a search needs the few rows that hold the subject. This index (one
SQLite file per source, under the cache directory) keeps, per file, its stamp, what a
full read reports about it (each sheet's warnings, missing columns, damaged values by
row number) and, per row, the keys of the identifiers it holds and of the values that
relate it to other rows (:mod:`connectors.tabular.indexing`: 64-bit hashes, never
the text). A search first brings the index up to date — files added, changed,
removed or renamed are read or dropped, the others are not opened — then reads only
the rows the index points to and verifies them as a full read would.

**The stamp.** A file is read again when its size, ``mtime_ns``, inode or the hash
of its first and last 64 KiB (with its size) changes. The hash catches a rewrite in
place that keeps the size and restores the modification time, as long as the change
touches either end of the file (every byte of a file up to 128 KiB); a same-size
change in the middle of a larger file with its modification time put back is the
limit of what is noticed without reading the whole file on every search. What a
full read of the file found is valid for that stamp: that every byte of a CSV file
in a one-byte encoding or UTF-16 decodes (:attr:`SheetEntry.decodes`) is not checked
again by a search of the file as stamped.

The whole index is built again when what its entries depend on besides the files
changes: the mapping, the source's scope, the code that reads files and computes keys
(:func:`code_digest`) or the polars version (its hash function).

No cell value is stored: secret columns are never keyed, and only key hashes, row
numbers, paths and the warnings a full read gives (which name columns and rows,
never values) are written. The directory is created with mode 0700 and the file with
mode 0600. An index that cannot be read is removed and built again, with a warning.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from connectors import caches
from connectors.heap import index_build
from connectors.safe_files import check_regular, open_regular
from discover.errors import DiscoverError

if TYPE_CHECKING:  # loaded where an index is built: a search does without it
    import numpy as np

log = logging.getLogger(__name__)

#: bump when what is stored changes: an index of another format is built again
FORMAT = 3
_SAMPLE = 64 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path BLOB UNIQUE, size INTEGER, mtime_ns INTEGER,
    inode INTEGER, sample TEXT, reread INTEGER, rows INTEGER, sheets TEXT);
CREATE TABLE IF NOT EXISTS keys (
    file INTEGER, sheet INTEGER, low INTEGER, high INTEGER, count INTEGER,
    keys BLOB, rows BLOB);
CREATE INDEX IF NOT EXISTS keys_file ON keys (file);
"""
#: A sheet's keys are one sorted array of 64-bit key hashes and the parallel array of
#: row indexes, in blobs of at most this many entries: written at the speed of the
#: bytes (a million rows hold ~6 million keys; a row per key costs ten times more),
#: looked up by binary search through SQLite's incremental blob reads.
_CHUNK = 1 << 21
_WIDTH = 8  # bytes per entry: native int64 ("q"); the byte order is in the settings
_PIECE = 1 << 16  # entries written to a blob at a time

Stamp = tuple[int, int, int, str]  # size, mtime_ns, inode, hash of both ends


class IndexUnreadable(DiscoverError):
    """The stored index is damaged (it is then built again)."""


def stamp_of(path: Path) -> Stamp | None:
    """The file's size, modification time, inode and a hash of its two ends.

    None when it is not a regular file or cannot be read (it is then read in full on
    every search, and its problem reported as a full read reports it).
    """
    try:
        status = check_regular(path)
        digest = hashlib.sha256(str(status.st_size).encode())
        with open_regular(path) as handle:
            digest.update(handle.read(_SAMPLE))
            if status.st_size > _SAMPLE:
                handle.seek(max(_SAMPLE, status.st_size - _SAMPLE))
                digest.update(handle.read(_SAMPLE))
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns, status.st_ino, digest.hexdigest()[:32])


@functools.cache
def code_digest() -> str:
    """A digest of the code that reads files and computes keys: an index built by
    another version of it (an identifier normalised differently) is built again."""
    from connectors.tabular import exprs, indexing, read
    from discover import identifiers

    digest = hashlib.sha256(FORMAT.to_bytes(4, "big"))
    for module in (exprs, indexing, read, identifiers):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def index_path(directory: Path, source: str, base_dir: Path) -> Path:
    """One index file per source (its name and the sources file's directory)."""
    digest = hashlib.sha256(f"{source}\n{base_dir}".encode()).hexdigest()[:24]
    return directory / f"tabular-{digest}.sqlite"


@dataclass(slots=True)
class SheetEntry:
    """What a full read reports about one sheet of a file, without its rows."""

    ordinal: int
    location: str
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    missing: list[str] = field(default_factory=list)
    #: per ICCID field of a CSV or Parquet file: whether its column is kept as text
    text_columns: dict[str, bool] = field(default_factory=dict)
    #: field -> the warning naming its damaged values (by count and row numbers)
    damage: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    #: the rows whose key value (the mapping's ``key``) is repeated in the sheet, so
    #: that a search reading some rows only knows; None: not known
    repeated: list[int] | None = None
    #: a CSV file in a one-byte encoding (cp1252 …) or UTF-16 every byte of which
    #: decoded when it was indexed: a search of the file as stamped does not check them
    #: all again
    decodes: bool = False


@dataclass(slots=True)
class FileEntry:
    """One file as indexed. ``reread``: a file that gave a problem (it cannot be
    opened, a sheet is missing, parsing stops part-way) is read in full on every
    search, so that its problem is reported exactly as a full read reports it."""

    path: str
    stamp: Stamp | None
    reread: bool = False
    sheets: list[SheetEntry] = field(default_factory=list)
    #: per sheet ordinal: ``key`` (hash, Int64) and ``row`` (index, an integer type)
    #: of every keyed value
    keys: dict[int, pl.DataFrame] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(sheet.rows for sheet in self.sheets)


@dataclass(slots=True)
class Update:
    """What bringing the index up to date did."""

    parsed: int = 0
    dropped: int = 0
    rows: int = 0
    rebuilt_because: str | None = None


def _sorted_keys(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sheet's keys and rows, and the order that sorts them by key, then row.

    As arrays (straight from the columns' buffers, not a Python int per value), each
    column copied while the frame lets go of it, and sorted by an order of indexes: a
    sort of the frame held the frame, its row-encoded sort keys and the sorted copy at
    once (some 80 MB for a million keys).
    """
    import numpy as np  # an index build's only: not loaded for a search

    keys = frame.get_column("key").to_numpy()
    frame = frame.drop("key")
    rows = frame.get_column("row").to_numpy()
    del frame
    return keys, rows, np.lexsort((rows, keys))


def _sheets_text(entry: FileEntry) -> str:
    return json.dumps([asdict(sheet) for sheet in entry.sheets])


def _path_bytes(path: str) -> bytes:
    """A path as stored: its bytes (a file name need not be valid UTF-8)."""
    return os.fsencode(path)


def _path_text(stored: bytes | str) -> str:
    return os.fsdecode(stored) if isinstance(stored, bytes) else stored


def _sheets_from(text: str) -> list[SheetEntry]:
    try:
        return [SheetEntry(**item) for item in json.loads(text)]
    except (TypeError, ValueError) as exc:
        raise IndexUnreadable(f"a file entry cannot be read ({exc})") from None


def _entry(blob: sqlite3.Blob, position: int) -> int:
    blob.seek(position * _WIDTH)
    return int.from_bytes(blob.read(_WIDTH), sys.byteorder, signed=True)


def _search(connection: sqlite3.Connection, rowid: int, count: int, wanted: list[int]) -> set[int]:
    """The rows of one blob of keys holding any of ``wanted`` (binary search)."""
    rows: set[int] = set()
    with (
        connection.blobopen("keys", "keys", rowid, readonly=True) as keys,
        connection.blobopen("keys", "rows", rowid, readonly=True) as values,
    ):
        if len(keys) != count * _WIDTH or len(values) != count * _WIDTH:
            raise sqlite3.DatabaseError("a block of keys has the wrong length")
        for key in wanted:
            first, last = 0, count
            while first < last:
                middle = (first + last) // 2
                if _entry(keys, middle) < key:
                    first = middle + 1
                else:
                    last = middle
            while first < count and _entry(keys, first) == key:
                rows.add(_entry(values, first))
                first += 1
    return rows


class FileIndex:
    """The persistent index of one tabular source."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path = path
        self._digest = digest

    # -- opening ------------------------------------------------------------------

    def _open(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The index file's connection. A lock another process holds is waited for at
        most a minute, and at most half the time the search's source has left
        (:func:`connectors.caches.busy_wait`): IndexBusy then, so that the source reads
        its files instead of timing out because of the other process."""
        return caches.patient_sqlite(self.path)

    def _prepare(self, connection: sqlite3.Connection) -> str | None:
        """Create the tables; empty them when they were made for other settings."""
        return caches.reset_for_settings(connection, _SCHEMA, self._digest, ("files", "keys"))

    def clear(self) -> bool:
        """Remove the index file; whether there was one."""
        return caches.remove_sqlite(self.path)

    # -- updating -----------------------------------------------------------------

    def update(
        self, files: list[Path], index_file: Callable[[Path, Stamp], FileEntry]
    ) -> tuple[Update, list[str]]:
        """Bring the index up to date with ``files``; what it did, and warnings.

        ``index_file`` reads one file in full and says what to store. A damaged
        index is removed and built again (with a warning).
        """
        try:
            return self._update(files, index_file), []
        except (sqlite3.DatabaseError, IndexUnreadable, ValueError) as exc:
            message = f"file index {self.path} could not be read ({exc}); built again"
            log.warning("%s", message)
            self.clear()
            done = self._update(files, index_file)
            done.rebuilt_because = str(exc)
            return done, [message]

    def _update(self, files: list[Path], index_file: Callable[[Path, Stamp], FileEntry]) -> Update:
        done = Update()
        with self._open() as connection:
            done.rebuilt_because = self._prepare(connection)
            stored: dict[str, tuple[int, Stamp | None]] = {}
            for ident, path, size, mtime, inode, sample in connection.execute(
                "SELECT id, path, size, mtime_ns, inode, sample FROM files"
            ):
                stamp = None if sample is None else (size, mtime, inode, sample)
                stored[_path_text(path)] = (ident, stamp)
            present = {str(path) for path in files}
            gone = [ident for path, (ident, _) in stored.items() if path not in present]
            with connection:
                self._drop(connection, gone)
            done.dropped = len(gone)
            for path in files:
                stamp = stamp_of(path)
                known = stored.get(str(path))
                if known is not None and known[1] == stamp:
                    continue  # unchanged, or still not a readable file (read by every search)
                if stamp is None:
                    entry = FileEntry(str(path), None, reread=True)
                    self._replace(connection, entry)
                else:
                    # the whole file is read and its keys held until stored: one such
                    # build at a time, its memory given back before the next
                    with index_build():
                        entry = index_file(path, stamp)
                        self._replace(connection, entry)
                        rows = entry.rows
                        del entry
                    done.rows += rows
                done.parsed += 1
        return done

    @classmethod
    def _replace(cls, connection: sqlite3.Connection, entry: FileEntry) -> None:
        caches.be_patient(connection)  # what is left after reading the file
        with connection:  # by path: another search may have stored it meanwhile
            cls._drop_path(connection, entry.path)
            cls._store(connection, entry)

    @staticmethod
    def _drop(connection: sqlite3.Connection, idents: list[int]) -> None:
        for ident in idents:
            connection.execute("DELETE FROM keys WHERE file = ?", (ident,))
            connection.execute("DELETE FROM files WHERE id = ?", (ident,))

    @classmethod
    def _drop_path(cls, connection: sqlite3.Connection, path: str) -> None:
        rows = connection.execute("SELECT id FROM files WHERE path = ?", (_path_bytes(path),))
        cls._drop(connection, [ident for (ident,) in rows.fetchall()])

    @staticmethod
    def _store(connection: sqlite3.Connection, entry: FileEntry) -> None:
        size, mtime, inode, sample = entry.stamp or (None, None, None, None)
        cursor = connection.execute(
            "INSERT INTO files (path, size, mtime_ns, inode, sample, reread, rows, sheets) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_path_bytes(entry.path), size, mtime, inode, sample, int(entry.reread), entry.rows,
             _sheets_text(entry)),
        )  # fmt: skip
        ident = cursor.lastrowid
        # the keys are let go of as they are copied to be sorted, not held beside them
        sheets, entry.keys = entry.keys, {}
        for sheet in sorted(sheets):
            keys, rows, order = _sorted_keys(sheets.pop(sheet))
            for start in range(0, len(order), _CHUNK):
                chosen = order[start : start + _CHUNK]
                size = len(chosen) * _WIDTH
                cursor = connection.execute(
                    "INSERT INTO keys (file, sheet, low, high, count, keys, rows) "
                    "VALUES (?, ?, ?, ?, ?, zeroblob(?), zeroblob(?))",
                    (ident, sheet, int(keys[chosen[0]]), int(keys[chosen[-1]]), len(chosen),
                     size, size),
                )  # fmt: skip
                for column, values in (("keys", keys), ("rows", rows)):
                    with connection.blobopen("keys", column, cursor.lastrowid) as blob:
                        for piece in range(0, len(chosen), _PIECE):
                            taken = values[chosen[piece : piece + _PIECE]]
                            blob.write(taken.astype("=i8", copy=False).tobytes())

    # -- searching ----------------------------------------------------------------

    def entries(self) -> dict[str, FileEntry]:
        """Every indexed file by path (without its keys)."""
        found: dict[str, FileEntry] = {}
        with self._open() as connection:
            for path, size, mtime, inode, sample, reread, sheets in connection.execute(
                "SELECT path, size, mtime_ns, inode, sample, reread, sheets FROM files"
            ):
                stamp = None if sample is None else (size, mtime, inode, sample)
                text = _path_text(path)
                found[text] = FileEntry(text, stamp, bool(reread), _sheets_from(sheets))
        return found

    def lookup(self, keys: Collection[int]) -> dict[str, dict[int, set[int]]]:
        """path -> sheet ordinal -> the row indexes holding one of ``keys``."""
        found: dict[str, dict[int, set[int]]] = {}
        wanted = sorted(set(keys))
        if not wanted:
            return found
        with self._open() as connection:
            chunks = connection.execute(
                "SELECT keys.rowid, files.path, keys.sheet, keys.low, keys.high, keys.count "
                "FROM keys JOIN files ON files.id = keys.file"
            ).fetchall()
            for rowid, path, sheet, low, high, count in chunks:
                within = wanted[bisect.bisect_left(wanted, low) : bisect.bisect_right(wanted, high)]
                if not within:
                    continue
                rows = _search(connection, rowid, count, within)
                if rows:
                    found.setdefault(_path_text(path), {}).setdefault(sheet, set()).update(rows)
        return found

    def status(self) -> dict[str, object]:
        """How many files and keys the index holds (for operators)."""
        return caches.index_status(self.path, "SELECT total(count) FROM keys")
