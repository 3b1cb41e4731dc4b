"""A provisioning directory's persistent index: which file holds which identifier.

Parsing every file of a large estate (tens of thousands of handsets) for each search
costs minutes and a gigabyte; a search needs the few files that hold the subject.
This index (one SQLite file per source, under the cache directory) keeps, per file,
its size, ``mtime_ns``, inode and ``ctime_ns``, the normalised identifiers its records
hold (phone numbers by their last digits), what joins it to other files (its handset
MAC, its name, the names it references) and its warnings, and the digest of the
listing it was last brought up to date with. A search first brings the index up to
date — nothing to compare when the directory lists the same files with the same
stamps; else files added, changed, removed or renamed are parsed or dropped, the others
are not opened — then parses only the files the index points to, together with the
files joined to them, and builds their records as a full pass would, verifying every
match.

No secret value is stored: secret fields are withheld before indexing and never
searchable, and only normalised identifiers, paths, MACs, file names and warnings are
written. The directory is created with mode 0700 and the file with mode 0600. An
index that cannot be read is removed and built again, with a warning. An index whose
lock another process (another search, ``discover index build``) keeps is not damaged:
it is waited for at most a minute, and at most half the time the source has left
(:func:`connectors.caches.busy_wait`), then :class:`~connectors.caches.IndexBusy`
leaves it as it is and the search passes over the whole directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from connectors import caches
from connectors.heap import building, release
from connectors.voip.files import Listing, Unreadable
from connectors.voip.index import IndexBuilder, phone_tail, unscoped_warning
from connectors.voip.mapping import VoipMapping
from connectors.voip.parsers import ParsedConfig, parse_file
from connectors.voip.references import (
    Resolver,
    parent_directory,
    target_name,
    target_path,
    written_references,
)
from discover.identifiers import Identifier

log = logging.getLogger(__name__)

#: bump when what is stored changes: an index of another format is built again
FORMAT = 3
_BATCH = 500
#: entries of what normalising gave, shared by the files of one update, before they
#: are dropped: some 200 bytes each. 400,000 grew a 60,000-file build by 70 MB (192 MB
#: peak); 50,000 keeps it to about 10 MB (121 MB) at the same CPU time, the colleagues a
#: phonebook repeats being met again soon after
_SHARED_LIMIT = 50_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    relpath TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, ctime_ns INTEGER,
    mac TEXT, name TEXT, unreadable INTEGER, unscoped INTEGER, rows INTEGER,
    warnings TEXT, config INTEGER, directory TEXT);
CREATE INDEX IF NOT EXISTS files_mac ON files (mac);
CREATE INDEX IF NOT EXISTS files_name ON files (name, directory);
CREATE INDEX IF NOT EXISTS files_flagged ON files (relpath)
    WHERE unreadable OR unscoped OR warnings != '[]';
CREATE TABLE IF NOT EXISTS refs (relpath TEXT, name TEXT, target TEXT, directory TEXT);
CREATE INDEX IF NOT EXISTS refs_name ON refs (name, directory);
CREATE INDEX IF NOT EXISTS refs_relpath ON refs (relpath);
CREATE TABLE IF NOT EXISTS keys (key TEXT, relpath TEXT);
CREATE INDEX IF NOT EXISTS keys_key ON keys (key);
CREATE INDEX IF NOT EXISTS keys_relpath ON keys (relpath);
"""

#: the files with warnings, not read or unscoped (through the partial index files_flagged)
FLAGGED = (
    "SELECT relpath, unreadable, unscoped, warnings FROM files"
    " WHERE unreadable OR unscoped OR warnings != '[]'"
)
#: the look-up indexes of _SCHEMA (a first build creates them after its rows)
_LOOKUP_INDEXES = tuple(re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", _SCHEMA))
#: the columns of the files table
_FILE_COLUMNS = tuple(
    column.split()[0]
    for column in re.search(r"TABLE IF NOT EXISTS files \((.*?)\);", _SCHEMA, re.S)[1].split(",")
)
Stamp = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns


class IndexUnreadable(Exception):
    """The stored index is damaged (it is then built again)."""


def index_key(kind: str, value: str) -> str:
    """The stored key of an identifier: a phone number by its last digits."""
    if kind == "phone":
        return f"tail:{phone_tail(value) or ''}"
    return f"{kind}:{value}"


def settings_digest(mapping: VoipMapping, fallback_scope: str | None) -> str:
    """What the stored entries depend on besides the files: a changed mapping rebuilds."""
    return caches.settings_digest(FORMAT, fallback_scope, mapping)


def index_path(directory: Path, source: str, root: Path) -> Path:
    """One index file per source and provisioning directory."""
    digest = hashlib.sha256(f"{source}\n{root}".encode()).hexdigest()[:24]
    return directory / f"voip-{digest}.sqlite"


@dataclass(slots=True)
class Update:
    """What bringing the index up to date did."""

    parsed: int = 0
    dropped: int = 0
    rows: int = 0
    rebuilt_because: str | None = None


@dataclass(slots=True)
class _FileEntry:
    relpath: str
    stamp: Stamp
    mac: str | None = None
    keys: set[str] = field(default_factory=set)
    refs: set[tuple[str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    unreadable: bool = False
    unscoped: bool = False
    rows: int = 0
    config: bool = False


def _stamp(path: Path) -> Stamp | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns)


def _name(relpath: str) -> str:
    return PurePosixPath(relpath.split("#", 1)[0]).name.lower()


def _enough_owners(loaders: list[tuple[str, str | None]], full: Collection[str]) -> set[str]:
    """Of the configurations that load one phonebook or part (with their own MACs), those
    a build must read to decide whose it is, as a build of the whole directory decides.

    A phonebook or part has an owner only when exactly one handset loads it; two
    configurations with their own, different MACs are two handsets, so one of each of
    two MACs settles that it has none (a part joins no handset either), whatever the
    others are. A client's ``phonebook.xml``, loaded by every handset of a client of
    thousands, is then read with two of them, not all. Otherwise (MACs missing or all
    alike) every one is read, as before.
    """
    pending = sorted((relpath, mac) for relpath, mac in loaders if relpath not in full)
    first_of: dict[str, str] = {}
    for relpath, mac in pending:
        if mac:
            first_of.setdefault(mac, relpath)
    if len(first_of) >= 2:
        return {first_of[mac] for mac in sorted(first_of)[:2]}
    return {relpath for relpath, _mac in pending}


def _references(config: ParsedConfig) -> set[tuple[str, str]]:
    """The references of a configuration: (the file name it names, the reference as
    written), resolved when searched (:class:`~connectors.voip.references.Resolver`)."""
    return {(target_name(target_path(target)), target) for target in written_references(config)}


class FileIndex:
    """The persistent index of one source's provisioning directory."""

    def __init__(
        self, path: Path, root: Path, mapping: VoipMapping, fallback_scope: str | None
    ) -> None:
        self.path = path
        self.root = root
        self.mapping = mapping
        self.fallback_scope = fallback_scope
        self._digest = settings_digest(mapping, fallback_scope)
        # what normalising and preparing a value gave, shared by the files of one update:
        # the same colleague is in many phonebooks (bounded by _SHARED_LIMIT)
        self._shared: dict[tuple[str, str], str | None] = {}
        self._prepared: dict[tuple[int, str, str | None], str | None] = {}
        self._tails: dict[str, str | None] = {}

    # -- opening ------------------------------------------------------------------

    def _open(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The index file's connection; another process's lock is waited for at most
        :func:`connectors.caches.busy_wait`, then IndexBusy."""
        return caches.patient_sqlite(self.path)

    def _prepare(self, connection: sqlite3.Connection) -> str | None:
        """Create the tables; empty them when they were made for other settings.

        The tables of an earlier format, with other columns, are dropped first (with
        what they said about the listing).
        """
        columns = {row[1] for row in connection.execute("PRAGMA table_info(files)")}
        earlier = bool(columns) and columns != set(_FILE_COLUMNS)
        if earlier:
            connection.executescript(
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS refs;"
                " DROP TABLE IF EXISTS keys; DROP TABLE IF EXISTS meta;"
            )
        reason = caches.reset_for_settings(
            connection, _SCHEMA, self._digest, ("files", "refs", "keys")
        )
        return "the index was of an earlier format" if earlier else reason

    def clear(self) -> bool:
        """Remove the index file; whether there was one."""
        return caches.remove_sqlite(self.path)

    # -- updating -----------------------------------------------------------------

    def update(self, listing: Listing) -> tuple[Update, list[str]]:
        """Bring the index up to date with ``listing``; returns what it did and warnings.

        A damaged index is removed and built again (with a warning). One that another
        process keeps locked past the wait raises :class:`~connectors.caches.IndexBusy`
        and is left as it is (it is no sqlite3.DatabaseError).
        """
        warnings: list[str] = []
        try:
            done = self._update(listing)
        except (sqlite3.DatabaseError, IndexUnreadable, ValueError) as exc:
            message = f"file index {self.path} could not be read ({exc}); built again"
            log.warning("%s", message)
            warnings.append(message)
            self.clear()
            done = self._update(listing)
            done.rebuilt_because = str(exc)
        finally:
            self._forget_values()
        if done.parsed:
            release()  # what parsing the files freed, before the next source's work
        return done, warnings

    def _forget_values(self) -> None:
        """Drop what normalising values gave (up to _SHARED_LIMIT entries, some 10 MB):
        it serves the files of one update."""
        self._shared.clear()
        self._prepared.clear()
        self._tails.clear()

    def _update(self, listing: Listing) -> Update:
        """Parse the files added or changed since the index last saw the directory.

        The digest of the listing the index was last brought up to date with is kept
        (``meta``, key ``listing``): when the directory lists the same files with the
        same stamps, no stored stamp is read. It is removed before the index changes
        and written once the update is complete, so that an interrupted update is
        never taken for a complete one.
        """
        done = Update()
        digest = listing.digest()
        with self._open() as connection:
            done.rebuilt_because = self._prepare(connection)
            seen = connection.execute("SELECT value FROM meta WHERE key = 'listing'").fetchone()
            if digest is not None and seen is not None and seen[0] == digest:
                return done
            with building():  # files are parsed: no scan starts ahead meanwhile
                self._bring_up_to_date(connection, listing, digest, done)
        return done

    def _bring_up_to_date(
        self, connection: sqlite3.Connection, listing: Listing, digest: str | None, done: Update
    ) -> None:
        """Parse the files that changed, drop those gone, and keep the listing's digest."""
        with connection:
            connection.execute("DELETE FROM meta WHERE key = 'listing'")
        stored = {
            relpath: (size, mtime, inode, ctime)
            for relpath, size, mtime, inode, ctime in connection.execute(
                "SELECT relpath, size, mtime_ns, inode, ctime_ns FROM files"
            )
        }
        present = set(listing.files)
        gone = [relpath for relpath in stored if relpath not in present]
        if not stored:  # a first build: the look-up indexes once, over every row
            with connection:
                for name in _LOOKUP_INDEXES:
                    connection.execute(f"DROP INDEX IF EXISTS {name}")
        pending: list[_FileEntry] = []
        stamps = listing.stamps()
        for relpath in listing.files:
            stamp = stamps.get(relpath) or _stamp(self.root / relpath)
            if stamp is not None and stored.get(relpath) == stamp:
                continue
            pending.append(self._index_file(relpath, stamp or (-1, -1, -1, -1)))
            done.parsed += 1
            done.rows += pending[-1].rows
            if len(pending) >= _BATCH:
                self._store(connection, pending, [], stored)
                pending = []
        self._store(connection, pending, gone, stored)
        done.dropped = len(gone)
        caches.be_patient(connection)
        connection.executescript(_SCHEMA)  # (again) the look-up indexes
        if digest is not None:
            with connection:
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('listing', ?)", (digest,))

    def _index_file(self, relpath: str, stamp: Stamp) -> _FileEntry:
        """One file parsed and indexed on its own (the joins are resolved when searched)."""
        entry = _FileEntry(relpath, stamp)
        try:
            parsed = parse_file(self.root, relpath, self.mapping)
        except Unreadable as exc:
            entry.unreadable = True
            entry.warnings.append(f"{exc.relpath}: not read: {exc.reason}")
            return entry
        entry.warnings.extend(parsed.notes)
        builder = IndexBuilder(self.root, self.mapping, self.fallback_scope)
        if len(self._shared) + len(self._prepared) > _SHARED_LIMIT:
            self._shared.clear()
            self._prepared.clear()
            self._tails.clear()
        builder._normalised = self._shared
        builder._prepared = self._prepared
        builder._tails = self._tails
        if isinstance(parsed, ParsedConfig):
            entry.config = True
            entry.refs = _references(parsed)
            index = builder.assemble([parsed], list(parsed.embedded))
        else:
            index = builder.assemble([], [parsed])
        entry.mac = parsed.mac
        entry.rows = index.rows
        entry.unscoped = bool(builder.unscoped)
        entry.keys = {f"{kind}:{value}" for kind, value in index.places}
        entry.keys.update(f"tail:{tail}" for tail in index.tails)
        return entry

    def _store(
        self,
        connection: sqlite3.Connection,
        entries: list[_FileEntry],
        gone: list[str],
        stored: Collection[str],
    ) -> None:
        """Write ``entries`` and drop ``gone``; ``stored``: what the index held before."""
        # a file the index held before (changed) or no longer sees: its rows go first
        stale = [(e.relpath,) for e in entries if e.relpath in stored]
        stale.extend((relpath,) for relpath in gone)
        caches.be_patient(connection)  # what is left after parsing the batch
        with connection:
            for table in ("files", "refs", "keys"):
                connection.executemany(
                    f"DELETE FROM {table} WHERE relpath = ?",  # noqa: S608 - fixed names
                    stale,
                )
            connection.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.relpath,
                        *e.stamp,
                        e.mac,
                        _name(e.relpath),
                        int(e.unreadable),
                        int(e.unscoped),
                        e.rows,
                        json.dumps(e.warnings),
                        int(e.config),
                        parent_directory(e.relpath),
                    )
                    for e in entries
                ],
            )
            connection.executemany(
                "INSERT INTO refs (relpath, name, target, directory) VALUES (?, ?, ?, ?)",
                [
                    (e.relpath, name, target, parent_directory(e.relpath))
                    for e in entries
                    for name, target in sorted(e.refs)
                ],
            )
            connection.executemany(
                "INSERT INTO keys (relpath, key) VALUES (?, ?)",
                [(e.relpath, k) for e in entries for k in sorted(e.keys)],
            )

    # -- searching ----------------------------------------------------------------

    def candidates(
        self, identifiers: Collection[Identifier]
    ) -> tuple[set[str], dict[str, list[str]]]:
        """The files a build must read to give the records holding one of
        ``identifiers`` as a build of the whole directory gives them; and, for that
        build, the directory's readable files of every name they refer by.

        Besides the files holding the identifiers: the same handset's files (a handset
        is assembled from its configuration and its parts); the files the matched
        handsets' references resolve to (their phonebooks, whose entries are theirs);
        and, for every phonebook or part read, the configurations whose references
        resolve to it, with their own handsets' files and parts: whether a phonebook
        has one owner, and which, depends on them (two with different MACs of their own
        settle that it has none, :func:`_enough_owners`). Those configurations' own
        phonebooks are not read: nothing of theirs is in the result. References are
        resolved as over the whole directory
        (:class:`~connectors.voip.references.Resolver`), so a client's
        ``phonebook.xml`` joins that client's handsets, not every handset whose
        phonebook has the name.
        """
        keys = sorted({index_key(i.type, i.value) for i in identifiers})
        names: dict[str, list[str]] = {}
        with self._open() as connection:
            found = set(self._select(connection, "keys", "key", keys, "relpath"))
            # full: matched files and those the matched handsets hold or load;
            # owners: configurations read only to know whose a phonebook or part is
            full, owners = set(found), set[str]()
            frontier = set(found)
            while frontier:
                batch = sorted(frontier)
                in_batch = set(batch)
                facts = {
                    relpath: (mac, name, bool(config))
                    for relpath, mac, name, config in self._rows(
                        connection, "files", "relpath", batch, "relpath, mac, name, config"
                    )
                }
                macs = sorted({mac for mac, _name, _config in facts.values() if mac})
                same_handset = list(
                    self._rows(connection, "files", "mac", macs, "relpath, mac, config")
                )
                own = list(
                    self._rows(connection, "refs", "relpath", batch, "relpath, name, target")
                )
                batch_names = sorted({name for _mac, name, _config in facts.values()})
                referring = self._referring(connection, facts, batch_names)
                wanted = ({name for _, name, _ in own} | set(batch_names)) - names.keys()
                for relpath, name in self._rows(
                    connection, "files", "name", sorted(wanted), "relpath, name", "NOT unreadable"
                ):
                    names.setdefault(name, []).append(relpath)
                for name in wanted:
                    names.setdefault(name, [])
                resolver = Resolver(names)
                reached_full: set[str] = set()
                reached_owners: set[str] = set()
                # a matched configuration's handset is read whole; a matched phonebook's
                # (named by its MAC) only as the phonebook's owner
                full_macs = {
                    facts[r][0]
                    for r in in_batch & full
                    if r in facts and facts[r][0] and facts[r][2]
                }
                for relpath, mac, config in same_handset:
                    if mac in full_macs:
                        reached_full.add(relpath)
                    elif config:  # an owner's handset: its parts, not its phonebooks
                        reached_owners.add(relpath)
                targets: set[str] = set()
                for referrer, _name, target in own:
                    resolved, _fitting = resolver.resolve(target, referrer)
                    if resolved is None:
                        continue
                    if referrer in full:
                        reached_full.add(resolved)
                    targets.add(resolved)
                loaded_by: dict[str, list[tuple[str, str | None]]] = {}
                for referrer, _name, target, mac in referring:
                    resolved = resolver.resolve(target, referrer)[0]
                    if resolved not in in_batch:
                        continue
                    if resolved in full and facts.get(resolved, ("", "", False))[2]:
                        # a part of a matched handset: the configuration that loads it
                        # may be the handset it joins, read whole
                        reached_full.add(referrer)
                    else:
                        loaded_by.setdefault(resolved, []).append((referrer, mac))
                for loaders in loaded_by.values():
                    reached_owners |= _enough_owners(loaders, full)
                # an owner's references matter only where they are parts of its
                # handset (configurations); its phonebooks are not read
                reached_owners |= self._configs(connection, targets - reached_full)
                reached_owners -= reached_full
                frontier = (reached_full - full) | (reached_owners - full - owners)
                full |= reached_full
                owners |= reached_owners - full
                found |= frontier
        return found, names

    @staticmethod
    def _referring(
        connection: sqlite3.Connection,
        facts: dict[str, tuple[str | None, str, bool]],
        names: list[str],
    ) -> list[tuple[str, str, str, str | None]]:
        """The references to ``names`` (the names of the files of ``facts``, sorted) that
        may resolve to one of those files, with the referring configuration's own MAC:
        those written in the file's own directory, and those written in a directory
        that does not hold exactly one readable file of the name (there the path, or
        the top directory, decides); not those written in another directory with its
        own file of the name, which resolve to it (every client's handsets and its
        ``phonebook.xml``)."""
        found: dict[tuple[str, str, str, str | None], None] = {}
        columns = (
            "SELECT r.relpath, r.name, r.target, f.mac FROM refs r JOIN files f USING (relpath)"
        )
        for name in names:
            query = (
                f"{columns} WHERE r.name = ? AND r.directory NOT IN"  # noqa: S608 - fixed text
                " (SELECT directory FROM files WHERE name = ? AND NOT unreadable"
                " GROUP BY directory HAVING count(*) = 1)"
            )
            found.update(dict.fromkeys(connection.execute(query, (name, name))))
        for relpath, (_mac, name, _config) in sorted(facts.items()):
            query = f"{columns} WHERE r.name = ? AND r.directory = ?"
            found.update(
                dict.fromkeys(connection.execute(query, (name, parent_directory(relpath))))
            )
        return list(found)

    def _configs(self, connection: sqlite3.Connection, relpaths: Collection[str]) -> set[str]:
        """Which of ``relpaths`` are configurations (not phonebooks)."""
        return {
            relpath
            for relpath, config in self._rows(
                connection, "files", "relpath", sorted(relpaths), "relpath, config"
            )
            if config
        }

    @classmethod
    def _select(
        cls, connection: sqlite3.Connection, table: str, column: str, values: list, wanted: str
    ) -> Iterable:
        for (value,) in cls._rows(connection, table, column, values, wanted):
            yield value

    @staticmethod
    def _rows(
        connection: sqlite3.Connection,
        table: str,
        column: str,
        values: list,
        wanted: str,
        condition: str = "1",
    ) -> Iterable[tuple]:
        """The ``wanted`` columns of the rows whose ``column`` is one of ``values``, a
        batch of values at a time (fixed table and column names only)."""
        for start in range(0, len(values), _BATCH):
            chunk = values[start : start + _BATCH]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT {wanted} FROM {table} WHERE {column} IN ({marks}) AND {condition}"  # noqa: S608
            yield from connection.execute(query, chunk)

    def summary(self, listing: Listing) -> tuple[list[str], int]:
        """Every file's warnings in listing order, and how many files were not read.

        The files with something to say are found through a partial index
        (``files_flagged``), not by reading every row.
        """
        warnings = [f"{s.relpath}: not read: {s.reason}" for s in listing.skipped]
        unreadable = len(listing.skipped)
        unscoped: list[str] = []
        with self._open() as connection:
            stored = {
                relpath: (flag, scoped, text)
                for relpath, flag, scoped, text in connection.execute(FLAGGED)
            }
        for relpath in listing.files if stored else ():
            if relpath not in stored:
                continue
            flag, scoped, text = stored[relpath]
            warnings.extend(json.loads(text))
            unreadable += flag
            if scoped:
                unscoped.append(relpath)
        if unscoped:
            warnings.append(unscoped_warning(unscoped))
        return warnings, unreadable

    def status(self) -> dict[str, object]:
        """How many files and keys the index holds (for operators)."""
        return caches.index_status(self.path, "SELECT count(*) FROM keys")
