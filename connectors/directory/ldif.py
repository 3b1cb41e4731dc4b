"""LDIF exports as a source (kind: ldif), scanned with the directory's own mapping.

A ``slapcat`` or ``ldifde`` export stands in for the server: the same mapping
(kind: ldap) says which entries and attributes matter. The connection names the
file (``path``, relative to the sources file) and, when the mapping's bases are
relative, the ``base_dn`` they hang from; without a base_dn an empty base means
the whole file.

The file is read once per search: every mapped identifier value is normalised into
an index (normalised value -> entry offsets), so that each scan, for one subject or
thousands, is a set of dictionary look-ups; matched entries are read again from
their offsets and verified like server results. Memory holds the index, not the
entries. The index is kept on disk (:mod:`connectors.directory.ldif_store`) for the
export's size, modification time and inode, so that a later search of an unchanged
export does not read the file at all and looks each value up on disk. An index that
another process keeps locked is left as it is: that search reads the export whole
(and does not keep what it read), with a warning; the next one tries the index again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from connectors import caches
from connectors.base import Link, Record, ScanResult
from connectors.directory import ldif_store
from connectors.directory.ldif_reader import (
    FileUrls,
    LdifEntry,
    LdifError,
    LdifStats,
    read_entry_at,
    read_ldif,
)
from connectors.directory.mapping import (
    DirectoryConnector,
    LdapEntryType,
)
from connectors.directory.values import (
    build_record,
    dn_key,
    in_scope,
    object_classes,
    read_value,
)
from connectors.heap import building, release
from connectors.safe_files import open_regular, printable
from discover.errors import SourceError
from discover.identifiers import Identifier, try_normalise

DnKey = tuple[str, ...]
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Index:
    """What one pass over the file learnt."""

    # (identifier type, normalised value) -> [(entry type, offset)], each place once.
    # Lists, not sets, and one place tuple per entry: an export of a hundred thousand
    # entries holds half a million values, and a set per value tripled the memory.
    values: dict[tuple[str, str], list[tuple[str, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # (entry type, attribute, DN key of the value) -> [offset]: for relations
    references: dict[tuple[str, str, DnKey], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # entry type -> offset -> location
    locations: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    # entry type -> attribute names seen (lower case), for check_mapping
    seen_attributes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    bases_used: set[tuple[str, int]] = field(default_factory=set)
    stats: LdifStats = field(default_factory=LdifStats)
    #: what every scan reports about the file (a damaged export, a base with no entry)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False

    def add_value(self, kind: str, value: str, place: tuple[str, int]) -> None:
        self.values[(kind, value)].append(place)

    def add_reference(self, key: tuple[str, str, DnKey], offset: int) -> None:
        self.references[key].append(offset)

    def add_location(self, entry_type: str, offset: int, location: str) -> None:
        self.locations[entry_type][offset] = location

    def candidates(self, kind: str, value: str) -> Iterable[tuple[str, int]]:
        """(entry type, offset) of the entries holding the normalised value."""
        return self.values.get((kind, value), ())

    def referrers(self, entry_type: str, attribute: str, reference: DnKey) -> Iterable[int]:
        """Offsets of the entries whose ``attribute`` names the DN ``reference``."""
        return self.references.get((entry_type, attribute, reference), ())

    def location(self, entry_type: str, offset: int) -> str:
        return self.locations[entry_type][offset]


class _WrittenIndex(_Index):
    """A pass whose values, references and locations go straight to the index file."""

    def __init__(self, writer: ldif_store.IndexWriter) -> None:
        super().__init__()
        self.writer = writer

    def add_value(self, kind: str, value: str, place: tuple[str, int]) -> None:
        self.writer.value(kind, value, *place)

    def add_reference(self, key: tuple[str, str, DnKey], offset: int) -> None:
        self.writer.reference(*key, offset)

    def add_location(self, entry_type: str, offset: int, location: str) -> None:
        self.writer.location(entry_type, offset, location)


def _edits(first: str, second: str) -> int:
    """Levenshtein distance (with adjacent transpositions) of two short names."""
    if abs(len(first) - len(second)) > 2:
        return 3
    previous2: list[int] = []
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, start=1):
        current = [i]
        for j, b in enumerate(second, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == second[j - 2] and first[i - 2] == b:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


class LdifConnector(DirectoryConnector):
    """Searches an LDIF export of a directory with a directory mapping."""

    kind: ClassVar[str] = "ldif"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index: ldif_store.Lookups | None = None
        self._stored: ldif_store.StoredIndex | None = None
        self.index_warnings: list[str] = []

    @property
    def path(self) -> Path:
        raw = self.source.connection.get("path")
        if not raw:
            raise SourceError(self.name, "connection.path (the LDIF file) is not set")
        path = Path(str(raw)).expanduser()
        return path if path.is_absolute() else self.source.base_dir / path

    @property
    def shown_name(self) -> str:
        """The file's name as locations and warnings show it (printable even if not UTF-8)."""
        return printable(self.path.name)

    @property
    def base_dn(self) -> str | None:
        return str(self.source.connection.get("base_dn") or "").strip() or None

    def _bases(self, entry_type: LdapEntryType) -> list[tuple[str, DnKey, str]]:
        """(location, DN key, scope) of each base of an entry type."""
        bases = []
        for base in entry_type.bases:
            dn = base.resolve(self.base_dn)
            location = f"{self.shown_name}#{dn}" if dn else self.shown_name
            bases.append((location, dn_key(dn), base.scope))
        return bases

    @property
    def file_urls(self) -> FileUrls:
        """``attr:< file://`` values: read only when the sources file allows it."""
        return FileUrls(allowed=self.source.allow_file_urls, root=self.path.parent)

    def check(self) -> None:
        path = self.path
        try:
            with open_regular(path) as stream:
                stream.read(1)
        except FileNotFoundError:
            raise SourceError(self.name, f"LDIF file {printable(path)} does not exist") from None
        except OSError as exc:
            raise SourceError(self.name, f"cannot read {printable(path)}: {exc.strerror}") from exc

    def _failure(self, exc: Exception) -> SourceError:
        return SourceError(self.name, f"{self.shown_name}: {exc}")

    def _build_index(self, result: ScanResult, index: _Index | None = None) -> _Index:
        index = _Index() if index is None else index
        types = [(name, et, self._bases(et)) for name, et in self.mapping.entries.items()]
        relations = [(r.from_type, r.attribute.lower()) for r in self.mapping.relations]
        try:
            for entry in read_ldif(self.path, index.stats, self.file_urls):
                result.rows_read += 1
                self._index_entry(entry, types, relations, index)
        except (LdifError, OSError, UnicodeDecodeError) as exc:
            raise self._failure(exc) from exc
        self._report(index)
        return index

    def _report(self, index: _Index) -> None:
        """What the pass found wrong with the export, as warnings every scan repeats.

        A damaged export (no entries, not UTF-8, NUL bytes) or a base with no entry
        below it means that what the search did not find may still be held: the
        result is marked truncated, so the search says it is incomplete.
        """
        name, stats = self.shown_name, index.stats
        index.warnings.extend(f"{name}: {warning}" for warning in stats.warnings)
        if stats.skipped_changes:
            index.warnings.append(
                f"{name}: {stats.skipped_changes} change records "
                "(modify/delete/modrdn) are not entries and were skipped"
            )
        damaged: list[str] = []
        if stats.entries == 0:
            damaged.append(f"{name}: holds no entries (an empty or failed export?)")
        if stats.not_utf8:
            damaged.append(
                f"{name}: {stats.not_utf8} line(s) are not UTF-8 (first: line "
                f"{stats.first_not_utf8}); read as Latin-1, so their values may not match "
                "(an LDIF export must be UTF-8: convert it, e.g. iconv -f latin1 -t utf-8)"
            )
        if stats.nul_lines:
            damaged.append(
                f"{name}: {stats.nul_lines} line(s) hold NUL bytes (first: line "
                f"{stats.first_nul}); the export is damaged and their values may not match"
            )
        if stats.entries:
            for entry_name, entry_type in self.mapping.entries.items():
                for position, base in enumerate(entry_type.bases):
                    if (entry_name, position) not in index.bases_used:
                        damaged.append(
                            f"{name}: no entry at or below base "
                            f"{base.resolve(self.base_dn)!r} (entries.{entry_name}.bases"
                            f"[{position}]): nothing was searched there; check base_dn"
                        )
        index.warnings.extend(damaged)
        index.truncated = bool(damaged)

    @staticmethod
    def _index_entry(
        entry: LdifEntry,
        types: list[tuple[str, LdapEntryType, list[tuple[str, DnKey, str]]]],
        relations: list[tuple[str, str]],
        index: _Index,
    ) -> None:
        key = dn_key(entry.dn)
        classes = object_classes(entry.attributes)
        for name, _entry_type, bases in types:
            for position, (_location, base, _scope) in enumerate(bases):
                if in_scope(key, base, "subtree"):
                    index.bases_used.add((name, position))
        for name, entry_type, bases in types:
            if not entry_type.accepts(classes):
                continue
            place = next(
                (
                    (position, location)
                    for position, (location, base, scope) in enumerate(bases)
                    if in_scope(key, base, scope)
                ),
                None,
            )
            if place is None:
                continue
            index.add_location(name, entry.offset, place[1])
            index.seen_attributes[name].update(entry.attributes)
            values: dict[tuple[str, str], None] = {}  # each value once per entry, in order
            for attribute in entry_type.searchable:
                for data in entry.attributes.get(attribute.lower, []):
                    _value, text = read_value(attribute, data)
                    normalised = try_normalise(str(attribute.spec.identifier), text)
                    if normalised is not None:
                        values[(str(attribute.spec.identifier), normalised)] = None
            here = (name, entry.offset)
            for kind, value in values:
                index.add_value(kind, value, here)
            references: dict[tuple[str, str, DnKey], None] = {}
            for from_type, attribute_name in relations:
                if from_type != name:
                    continue
                for data in entry.attributes.get(attribute_name, []):
                    references[(name, attribute_name, dn_key(data.decode("utf-8", "replace")))] = (
                        None
                    )
            for key in references:
                index.add_reference(key, entry.offset)

    # -- the persistent index ------------------------------------------------------

    def index_file(self) -> Path | None:
        """Where this source's index is kept; None when ``connection.index`` is false or
        the export may read ``file://`` values (their files are not stamped)."""
        directory = caches.file_index_dir(self.source.connection, self.source.base_dir)
        if directory is None or self.source.allow_file_urls:
            return None
        return ldif_store.index_path(directory, self.name, self.path.resolve())

    def _settings(self) -> str:
        return caches.settings_digest(ldif_store.FORMAT, self.base_dn, self.mapping)

    def _load_stored(self, path: Path) -> ldif_store.StoredIndex | None:
        try:
            return ldif_store.load(path, ldif_store.stamp_of(self.path), self._settings())
        except (sqlite3.DatabaseError, KeyError, ValueError, TypeError) as exc:
            message = f"file index {path} could not be read ({exc}); built again"
            log.warning("%s", message)
            self.index_warnings.append(message)
            ldif_store.clear(path)
            return None

    def _build_written(self, path: Path, result: ScanResult) -> ldif_store.StoredIndex | None:
        """One pass written straight to the index file, then opened from it.

        None when the index cannot be written (an unwritable cache): the caller then
        builds it in memory. The export changing while it is read leaves the old index
        in place; this search answers from what it read, and the next reads it again.
        """
        stamp = ldif_store.stamp_of(self.path)
        try:
            writer = ldif_store.IndexWriter(path)
        except (OSError, sqlite3.Error) as exc:
            log.warning("file index not saved to %s: %s", path, exc)
            return None
        try:
            index = self._build_index(result, _WrittenIndex(writer))
            keep = stamp is not None and ldif_store.stamp_of(self.path) == stamp
            written = writer.finish(stamp, self._settings(), index, keep=keep)
        except (OSError, sqlite3.Error) as exc:
            writer.abort()
            log.warning("file index not saved to %s: %s", path, exc)
            return None
        except BaseException:
            writer.abort()
            raise
        del index
        release()  # what reading the export freed, before the next source's work
        stored = ldif_store.StoredIndex(written)
        if not keep:
            with contextlib.suppress(OSError):
                os.unlink(written)  # this search reads it through its open connection
        return stored

    def _read_whole(self, path: Path, exc: caches.IndexBusy, result: ScanResult) -> _Index:
        """The export read whole for one search, its index ``path`` left as it is:
        another process keeps it locked. Not kept (it holds every value in memory): the
        next search tries the index again."""
        message = f"file index {path} cannot be used ({exc}); the whole export was read"
        log.warning("%s", message)
        self.index_warnings.append(message)
        with building():  # the whole export is read: no scan starts ahead meanwhile
            return self._build_index(result)

    def build_index(self) -> bool:
        """Bring the persistent index up to date; whether the export was read."""
        self.close()
        path = self.index_file()
        if path is None:
            return False
        self.check()
        with caches.busy_fails_the_build(self.name, path):
            stored = self._load_stored(path)
        if stored is not None:
            stored.close()
            return False
        stored = self._build_written(path, ScanResult())
        if stored is None:
            raise SourceError(self.name, f"the file index {path} cannot be written")
        stored.close()
        return True

    def index_status(self) -> dict[str, object] | None:
        """Where the persistent index is and what it holds; None when it is off."""
        path = self.index_file()
        return None if path is None else ldif_store.status(path)

    def clear_index(self) -> bool:
        """Remove the persistent index (the next search builds it again)."""
        self.close()
        path = self.index_file()
        return path is not None and ldif_store.clear(path)

    def close(self) -> None:
        if self._stored is not None:
            self._stored.close()
        self._stored = None
        self._index = None

    def index(self, result: ScanResult | None = None) -> ldif_store.Lookups:
        """The export's index: the stored one, else built (and stored) by reading the
        export; an index another process keeps locked gives the export read whole, for
        this caller only."""
        if self._index is None:
            self.check()
            path = self.index_file()
            if path is not None:
                try:
                    self._stored = self._load_stored(path)
                except caches.IndexBusy as exc:
                    return self._read_whole(path, exc, result or ScanResult())
                if self._stored is not None:
                    self._index = self._stored
                    return self._index
            with building():  # the whole export is read: no scan starts ahead meanwhile
                if path is not None:
                    self._stored = self._build_written(path, result or ScanResult())
                    if self._stored is not None:
                        self._index = self._stored
                        return self._index
                self._index = self._build_index(result or ScanResult())
        return self._index

    def check_mapping(self) -> list[str]:
        """Bases with no entry at or below them; attributes no entry has, but a near-spelling."""
        index = self.index()
        problems: list[str] = []
        for name, entry_type in self.mapping.entries.items():
            for position, base in enumerate(entry_type.bases):
                if (name, position) not in index.bases_used:
                    problems.append(
                        f"base {base.resolve(self.base_dn)!r} (entries.{name}.bases[{position}])"
                        f" does not exist in {self.path.name}: no entry at or below it"
                    )
            # An export has no schema: an attribute no entry holds may just be unused,
            # unless it is a near-spelling of one the entries do hold.
            seen = sorted(index.seen_attributes.get(name, set()))
            if entry_type.key and seen and entry_type.key.lower() not in seen:
                problems.append(
                    f"key attribute {entry_type.key!r} (entries.{name}.key) occurs in no {name} "
                    "entry of the export: its records are keyed by their DN, not as the live "
                    "directory keys them, so review decisions do not carry between the two; "
                    "export it too (slapcat, ldapsearch with '+', ldifde)"
                )
            for attribute in entry_type.attributes.values():
                if attribute.lower in seen:
                    continue
                allowed = min(2, len(attribute.lower) // 3)
                close = [o for o in seen if _edits(attribute.lower, o) <= allowed]
                if close:
                    problems.append(
                        f"attribute {attribute.name!r} (entries.{name}.attributes."
                        f"{attribute.name}) occurs in no {name} entry of the export; "
                        f"the entries have {close[0]!r}"
                    )
        return problems

    def _record(
        self,
        index: ldif_store.Lookups,
        name: str,
        offset: int,
        wanted: dict[str, dict[str, Identifier]],
        result: ScanResult,
    ) -> tuple[Record, LdifEntry] | None:
        try:
            entry = read_entry_at(self.path, offset, self.file_urls)
        except (LdifError, OSError) as exc:
            raise self._failure(exc) from exc
        if entry is None:
            return None
        result.rows_read += 1
        entry_type = self.mapping.entries[name]
        location = index.location(name, offset)
        return build_record(entry_type, entry.dn, entry.attributes, location, wanted), entry

    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        result = ScanResult()
        index = self.index(result)
        try:
            self._answer(index, identifiers, result)
        except caches.IndexBusy as exc:
            # another process locked the index since it was opened (a batch keeps it
            # open across searches): this search reads the export whole
            path = self.index_file()
            if path is None:
                raise
            self.close()  # the next search opens it again
            result = ScanResult()
            self._answer(self._read_whole(path, exc, result), identifiers, result)
        result.warnings[:0] = self.index_warnings
        self.index_warnings = []
        return result

    def _answer(
        self, index: ldif_store.Lookups, identifiers: Collection[Identifier], result: ScanResult
    ) -> None:
        """The records holding ``identifiers`` and those related to them, into ``result``."""
        if isinstance(index, ldif_store.StoredIndex):
            index.be_patient()
        result.warnings.extend(index.warnings)
        result.truncated = index.truncated
        wanted: dict[str, dict[str, Identifier]] = defaultdict(dict)
        candidates: dict[str, set[int]] = defaultdict(set)
        for identifier in identifiers:
            wanted[identifier.type][identifier.value] = identifier
            for name, offset in index.candidates(identifier.type, identifier.value):
                candidates[name].add(offset)
        found: dict[str, dict[int, Record]] = defaultdict(dict)
        frontier: dict[str, list[tuple[int, Record]]] = defaultdict(list)
        for name, offsets in candidates.items():
            for offset in sorted(offsets):
                built = self._record(index, name, offset, wanted, result)
                if built is not None and built[0].matches:
                    found[name][offset] = built[0]
                    frontier[name].append((offset, built[0]))
        self._follow_relations(index, found, frontier, wanted, result)
        result.records = [record for records in found.values() for record in records.values()]

    def _follow_relations(
        self,
        index: ldif_store.Lookups,
        found: dict[str, dict[int, Record]],
        frontier: dict[str, list[tuple[int, Record]]],
        wanted: dict[str, dict[str, Identifier]],
        result: ScanResult,
    ) -> None:
        while any(frontier.values()):
            next_frontier: dict[str, list[tuple[int, Record]]] = defaultdict(list)
            for relation in self.mapping.relations:
                attribute = relation.attribute.lower()
                for _offset, parent in frontier.get(relation.to_type, []):
                    reference = dn_key(str(parent.fields[0].value))
                    for offset in sorted(index.referrers(relation.from_type, attribute, reference)):
                        target = found[relation.from_type].get(offset)
                        fresh = target is None
                        if target is None:
                            built = self._record(index, relation.from_type, offset, wanted, result)
                            if built is None:
                                continue
                            target = built[0]
                        if target is parent:
                            continue
                        link = Link(parent.location, parent.key, relation.label)
                        if link not in target.links:
                            target.links.append(link)
                        if fresh:
                            found[relation.from_type][offset] = target
                            next_frontier[relation.from_type].append((offset, target))
            frontier = next_frontier
