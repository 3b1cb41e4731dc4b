"""VoIP provisioning connector: the files handsets fetch, and their phonebooks.

A provisioning directory (``connection.directory`` in the sources file, typically
``${PROVISIONING_DIR}``) holds one configuration per handset in its vendor's format
(Yealink ``<mac>.cfg``, Polycom ``<mac>-registration.cfg`` / ``phone1.cfg``, Cisco SPA
``<flat-profile>``, Grandstream ``<gs_provision>``, Snom ``<settings>``) and the
phonebooks the handsets load. The mapping (kind ``voip``) says which files to read,
how each format is recognised and which vendor keys hold which fields.

A persistent index (:mod:`connectors.voip.store`, under the cache directory) says
which files hold which identifiers; a scan brings it up to date (only added or
changed files are parsed) and then parses only the files it points to, with the files
joined to them, into records (:mod:`connectors.voip.index`), verifying every match.
With ``connection.index: false`` a scan reads every file once instead, and keeps that
in-memory index while no file changes.

Passwords (SIP, authentication, provisioning, admin) are never read into a record:
the field says only that a value is set (``WITHHELD``).

A file that cannot be read — an XML entity bomb, an external entity, binary garbage,
a truncated or non-UTF-8 file, a file in no known format, a FIFO or device, a
dangling link, a link loop or a link out of the directory, a file name that is not
valid UTF-8, a sub-directory that cannot be listed — is named in a warning and
the others are still scanned; the result is then marked truncated, so that the search
reports itself incomplete and no package is silently missing a file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Connector, Match, Record, ScanResult
from connectors.caches import IndexBusy, busy_fails_the_build, file_index_dir
from connectors.voip.ahead import AheadListing
from connectors.voip.files import Listing, Unreadable, scan_directory
from connectors.voip.index import Index, IndexBuilder, unscoped_warning, valid_scope
from connectors.voip.mapping import VoipMapping, parse_voip_mapping
from connectors.voip.store import FileIndex, Update, index_path
from discover.errors import SourceError
from discover.identifiers import Identifier
from discover.register import Register

Signature = tuple[tuple[str, tuple[int, ...]], ...]  # relpath, stamp
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The directory as one search sees it, and the index's summary of it."""

    listing: Listing
    problems: list[str]
    warnings: list[str]
    unreadable: int


class VoipConnector(Connector):
    """Searches a VoIP provisioning directory (handset configurations and phonebooks)."""

    kind: ClassVar[str] = "voip"
    mapping_schema: ClassVar[str] = "mapping-voip.schema.json"
    mapping: VoipMapping

    @classmethod
    def parse_mapping(
        cls, document: dict[str, Any], *, register: Register, file: str
    ) -> VoipMapping:
        return parse_voip_mapping(document, register=register, file=file)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index: Index | None = None
        self._signature: Signature | None = None
        self._skipped: list[Unreadable] = []
        self._fresh = False
        #: the first round's listing and index summary, kept for the search's later rounds
        self._snapshot: _Snapshot | None = None
        self._keep_snapshot = False
        #: the listing a child process is making for the first scan (see start_ahead)
        self._ahead: AheadListing | None = None

    # -- configuration ------------------------------------------------------------

    @property
    def directory(self) -> Path:
        raw = self.source.connection.get("directory")
        if not raw:
            raise SourceError(
                self.name,
                "connection.directory is not set in the sources file "
                "(e.g. directory: ${PROVISIONING_DIR})",
            )
        path = Path(str(raw)).expanduser()
        return path if path.is_absolute() else self.source.base_dir / path

    @property
    def fallback_scope(self) -> str | None:
        """The client scope for files outside a client directory (or for every file).

        ``connection.scope`` when set, else the source's ``client`` when it is a valid
        scope (``acme``); None leaves such extensions unscoped.
        """
        raw = self.source.connection.get("scope")
        if raw:
            scope = valid_scope(str(raw))
            if scope is None:
                raise SourceError(
                    self.name,
                    f"connection.scope {raw!r} is not a valid extension scope "
                    "(lowercase letters, digits, '.', '_' or '-', e.g. acme)",
                )
            return scope
        return valid_scope(self.source.client)

    def check(self) -> None:
        directory = self.directory
        if directory.exists() and not directory.is_dir():
            raise SourceError(self.name, f"provisioning directory {directory} is not a directory")
        if not directory.is_dir():
            raise SourceError(self.name, f"provisioning directory {directory} does not exist")
        if not os.access(directory, os.R_OK | os.X_OK):
            raise SourceError(self.name, f"provisioning directory {directory} is not readable")
        if self.mapping.scope_from == "source" and self.fallback_scope is None:
            raise SourceError(
                self.name,
                "the mapping takes the extension scope from the source, but neither "
                "connection.scope nor a valid client is set",
            )

    def check_mapping(self) -> list[str]:
        self.check()
        index = self._current_index()
        problems: list[str] = []
        if index.files == 0:
            problems.append(
                f"no file in {self.directory} matches files.include "
                f"({', '.join(self.mapping.include)})"
            )
        problems.extend(index.warnings)
        return problems

    def close(self) -> None:
        self._index = None
        self._signature = None
        self._drop_ahead()

    def start_ahead(self) -> None:
        """List the directory in a child process for the coming search's first scan
        (:mod:`connectors.voip.ahead`); a source that cannot be listed is left to the
        scan, which names the problem."""
        self._drop_ahead()
        try:
            directory = self.directory
        except SourceError:
            return
        if directory.is_dir():
            self._ahead = AheadListing.start(directory, self.mapping.include, self.mapping.exclude)

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.discard()

    # -- scanning -----------------------------------------------------------------

    def _listing(self) -> Listing:
        """The directory's files as they are now: the listing made ahead for this
        search when there is one (taken once), else listed here."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            listing = ahead.take(self.directory, self.mapping.include, self.mapping.exclude)
            if listing is not None:
                return listing
        return scan_directory(self.directory, self.mapping.include, self.mapping.exclude)

    def _files(self) -> tuple[list[str], Signature]:
        listing = self._listing()
        self._skipped = listing.skipped
        signature = [(s.relpath, (-2,)) for s in listing.skipped]
        stamps = listing.stamps()
        signature += [(r, stamps.get(r, (-1,))) for r in listing.files]
        return listing.files, tuple(signature)

    def _current_index(self) -> Index:
        """The index of the directory as it is now: rebuilt only when a file changed."""
        relpaths, signature = self._files()
        if self._index is None or signature != self._signature:
            builder = IndexBuilder(self.directory, self.mapping, self.fallback_scope)
            self._index = builder.build(relpaths, self._skipped)
            self._signature = signature
            self._fresh = True
        else:
            self._fresh = False
        return self._index

    # -- the persistent index ------------------------------------------------------

    def file_index(self) -> FileIndex | None:
        """This source's persistent index; None when ``connection.index`` is false."""
        directory = file_index_dir(self.source.connection, self.source.base_dir)
        if directory is None:
            return None
        path = index_path(directory, self.name, self.directory.resolve())
        return FileIndex(path, self.directory, self.mapping, self.fallback_scope)

    def build_index(self) -> Update:
        """Bring the persistent index up to date (what ``discover index build`` does)."""
        stored = self.file_index()
        if stored is None:
            return Update()
        self.check()
        listing = scan_directory(self.directory, self.mapping.include, self.mapping.exclude)
        with busy_fails_the_build(self.name, stored.path):
            return stored.update(listing)[0]

    def index_status(self) -> dict[str, object] | None:
        """Where the persistent index is and what it holds; None when it is off."""
        stored = self.file_index()
        return None if stored is None else stored.status()

    def clear_index(self) -> bool:
        """Remove the persistent index (the next search builds it again)."""
        stored = self.file_index()
        return stored is not None and stored.clear()

    def begin_search(self) -> None:
        self._snapshot = None
        self._keep_snapshot = True

    def _up_to_date(self, stored: FileIndex) -> tuple[_Snapshot, int]:
        """The listing and the index brought up to date: once per search, not per round.

        Returns the snapshot and the rows parsed to update the index (0 when reused).
        """
        if self._snapshot is not None:
            return self._snapshot, 0
        listing = self._listing()
        done, problems = stored.update(listing)
        warnings, unreadable = stored.summary(listing)
        snapshot = _Snapshot(listing, problems, warnings, unreadable)
        if self._keep_snapshot:
            self._snapshot = snapshot
        return snapshot, done.rows

    def _scan_indexed(self, stored: FileIndex, identifiers: Collection[Identifier]) -> ScanResult:
        """Parse only the files the index points to (and the files joined to them)."""
        snapshot, parsed_rows = self._up_to_date(stored)
        listing, problems = snapshot.listing, snapshot.problems
        warnings, unreadable = list(snapshot.warnings), snapshot.unreadable
        wanted, names = stored.candidates(identifiers)
        builder = IndexBuilder(self.directory, self.mapping, self.fallback_scope)
        builder.names = names  # references resolved as over the whole directory
        index = builder.build([relpath for relpath in listing.files if relpath in wanted])
        known = set(warnings)
        if builder.unscoped:
            known.add(unscoped_warning(builder.unscoped))
        warnings.extend(w for w in index.warnings if w not in known)
        result = self._answer(index, identifiers)
        result.warnings = [*problems, *warnings]
        result.truncated = unreadable > 0 or index.unreadable > 0  # a file unreadable now
        result.rows_read = parsed_rows + index.rows
        return result

    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        if not self.directory.is_dir():
            raise SourceError(self.name, f"provisioning directory {self.directory} does not exist")
        stored = self.file_index()
        problem: str | None = None
        if stored is not None:
            try:
                result = self._scan_indexed(stored, identifiers)
            # an unwritable cache, or an index another process keeps locked (its search
            # or build hangs): search without it, and leave it as it is
            except (OSError, sqlite3.Error, IndexBusy) as exc:
                problem = f"file index {stored.path} cannot be used ({exc}); every file was read"
                log.warning("%s", problem)
            else:
                # the whole directory's records an earlier search parsed without the
                # index (it was locked) are not needed while the index serves
                self._index = self._signature = None
                return result
        index = self._current_index()
        result = self._answer(index, identifiers)
        result.rows_read = index.rows if self._fresh else 0
        if problem:
            result.warnings.insert(0, problem)
        return result

    @staticmethod
    def _answer(index: Index, identifiers: Collection[Identifier]) -> ScanResult:
        matches: dict[int, list[Match]] = {}
        for identifier in identifiers:
            for number, field_name, exact in index.lookup(identifier.type, identifier.value):
                matches.setdefault(number, []).append(Match(identifier, field_name, exact))
        records: list[Record] = []
        phonebooks: set[int] = set()
        for number in sorted(matches):
            records.append(replace(index.records[number], matches=matches[number], links=[]))
            phonebooks.update(index.children.get(number, ()))
        for phonebook in sorted(phonebooks):
            records.extend(index.kept_views(phonebook))
        return ScanResult(
            records=records, warnings=list(index.warnings), truncated=index.unreadable > 0
        )
