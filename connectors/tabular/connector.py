"""Tabular connector: CSV, XLSX (fastexcel/calamine) and Parquet files of one layout.

The search is vectorised: every file becomes a polars LazyFrame of mapped fields
(``tabular_read``), the candidate filter is built from polars expressions, one per
searched field (``tabular_exprs``), and polars pushes it down into the reader; only the
few candidate rows reach Python, where each is verified with ``try_normalise``. Rows
related by equal values (the keyholders of one object) are fetched with one more
``is_in`` filter.

Whose data it is:

* a row matched directly is the subject's; a row reached through a ``third_party``
  relation (another keyholder of the subject's object) is returned as a separate
  record marked ``third_party`` and linked to the subject's row, so that in a batch
  the same row is still its own holder's data for that holder;
* a retired row (``lifecycle``) belongs to its former holder: it is never matched by
  a re-issued (recycled) identifier such as an MSISDN, and those values never feed
  identity expansion;
* a value a spreadsheet damaged (an ICCID stored as a float) is never matched and
  never expanded, and is reported with its file, sheet, row and column.

A file that cannot be read is reported by name and the others are still searched; the
result is then marked truncated, so that a package is never silently incomplete. When
no file at all can be read the source fails.

A persistent index (:mod:`connectors.tabular.store`, under the cache directory) says
which rows of which files hold which identifiers. A scan brings it up to date (only
added or changed files are read), opens only the files it points to, keeps only the
rows it names (``__index``) before the same candidate filter and verification, and
reports what each file's reading reports as it was stored; the answer is a full
read's. With ``connection.index: false``, or when the cache cannot be written (with a
warning), every file is read.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from connectors import caches
from connectors.base import (
    WITHHELD,
    Connector,
    FieldValue,
    Link,
    Match,
    Record,
    ScanResult,
    wanted_index,
)
from connectors.heap import give_back_freed
from connectors.nearest import listing
from connectors.tabular import indexing, store
from connectors.tabular.csv_rows import Untrusted
from connectors.tabular.exprs import (
    REPORTED,
    candidate,
    damage_reason,
    damaged,
    holds_unrounded_iccids,
    index_key,
)
from connectors.tabular.mapping import (
    Relation,
    TabularMapping,
    header_text,
    parse_tabular_mapping,
)
from connectors.tabular.read import (
    FACTS,
    ROW,
    FileProblem,
    Sheet,
    excel_rows,
    file_format,
    read_sheets,
    resolve_files,
)
from connectors.tabular.workbook_facts import WorkbookFacts
from connectors.tabular.workbook_rows import ROWS, WorkbookRows
from discover.errors import InvalidIdentifier, SourceError
from discover.identifiers import Identifier, normalise, try_normalise
from discover.mapping import FieldSpec
from discover.register import Register

if TYPE_CHECKING:  # loaded where an index is built: a search does without it
    import numpy as np

log = logging.getLogger(__name__)
_SHOWN_ROWS = 5  # row numbers listed in one warning
_SEED = 20260101  # of the hashes that find repeated key values
_READ_BY_PLACE = 10_000  # rows whose key values are read again by their place, at most
_DAY_FIRST = re.compile(
    r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)


def _names(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in dict.fromkeys(names)]
    return quoted[0] if len(quoted) == 1 else f"named any of {', '.join(quoted)}"


def _rows(numbers: list[int], total: int) -> str:
    shown = ", ".join(str(n) for n in numbers[:_SHOWN_ROWS])
    return f"row {shown}" if total == 1 else f"rows {shown}{' …' if total > len(numbers) else ''}"


def reader_error(exc: BaseException, column_names: dict[str, str] | None = None) -> str:
    """A reader's error for privacy staff, without the cell text it may quote.

    polars quotes the offending field in backticks (```could not parse `06-…` as …```);
    that text may be personal data, so it is left out. Internal column names (c3) are
    replaced by the file's header text.
    """
    text = str(exc)
    if "not found in CSV file" in text or "not properly escaped" in text:
        reason = "a quoted field is not closed or not properly escaped (rows run together)"
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = re.sub(r"`[^`]*`", "…", lines[0] if lines else type(exc).__name__)
    for internal, shown in (column_names or {}).items():
        reason = reason.replace(f"'{internal}'", repr(shown))
    offset = re.search(r"current offset in the file is (\d+) bytes", text)
    if offset:
        reason += f" (near byte {offset.group(1)})"
    return reason[:300]


def _stored_text(sheet: Sheet, spec: FieldSpec) -> pl.Expr:
    """What a candidate expression (and the index) reads of a field: the stored text;
    for an extension, the number composed with its scope."""
    return sheet.fields[spec.name] if spec.identifier == "extension" else pl.col(spec.name)


def parse_date(text: str | None) -> datetime | None:
    """A record date from ISO text or the Dutch day-first form (31-12-2026 14:05)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _DAY_FIRST.match(text.strip())
    if match:
        day, month, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
    try:
        return datetime.combine(date.fromisoformat(text[:10]), time.min)
    except ValueError:
        return None


class TabularConnector(Connector):
    """Searches CSV, XLSX and Parquet files described by a tabular mapping."""

    kind: ClassVar[str] = "tabular"
    mapping_schema: ClassVar[str] = "mapping-tabular.schema.json"
    mapping: TabularMapping

    @classmethod
    def parse_mapping(
        cls, document: dict[str, Any], *, register: Register, file: str
    ) -> TabularMapping:
        return parse_tabular_mapping(document, register=register, file=file)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: dict[Any, Any] = {}

    # -- configuration --------------------------------------------------------------

    @property
    def scope(self) -> str | None:
        """The extension scope of this source (``scope: {from: source}``)."""
        raw = self.source.connection.get("scope") or self.source.client
        if not raw:
            return None
        try:
            return normalise("extension", f"{raw}/0").rpartition("/")[0] or None
        except InvalidIdentifier:  # a client name such as "Acme Logistiek B.V."
            return None

    def _files(self) -> list[Path]:
        if not self.source.connection.get("path"):
            raise SourceError(self.name, "connection.path is not set in the sources file")
        files, unmatched = resolve_files(self.source.connection, self.source.base_dir)
        if not files:
            raise SourceError(
                self.name, f"no file matches connection.path ({', '.join(unmatched)})"
            )
        return files

    def starts_first(self) -> bool:
        """A workbook's sheet is parsed whole (see :meth:`Connector.starts_first`)."""
        patterns = self.source.connection.get("path") or []
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            try:
                if file_format(Path(str(pattern)), self.mapping) == "excel":
                    return True
            except FileProblem:
                continue
        return False

    def check(self) -> None:
        self._files()

    def check_mapping(self) -> list[str]:
        problems: list[str] = []
        for item in self._sheets(self._files()):
            if isinstance(item, tuple):
                location, problem = item
                problems.append(f"{location}: {problem}")
                continue
            for name in item.missing:
                header = self.mapping.headers[name]
                if not header.optional:
                    problems.append(
                        f"{item.location}: no column {_names(header.names)} (columns.{name})"
                        f"; {self._read_headers(item, header.names)}"
                    )
        return problems

    def close(self) -> None:
        self._cache.clear()

    def _read_headers(self, sheet: Sheet, wanted: tuple[str, ...]) -> str:
        """Where the header was read and what it holds, nearest to ``wanted`` first."""
        read = self.mapping.read
        rows = read.header_row
        where = (
            f"row {rows}" if read.header_rows == 1 else f"rows {rows}-{rows + read.header_rows - 1}"
        )
        if not sheet.header_texts:
            return f"header {where} (read.header_row) holds no text"
        return f"header {where} (read.header_row) holds: {listing(wanted, sheet.header_texts)}"

    # -- the persistent index ---------------------------------------------------------

    def file_index(self) -> store.FileIndex | None:
        """This source's persistent index; None when ``connection.index`` is false."""
        base_dir = self.source.base_dir
        directory = caches.file_index_dir(self.source.connection, base_dir)
        if directory is None:
            return None
        path = store.index_path(directory, self.name, base_dir.resolve())
        digest = caches.settings_digest(
            store.code_digest(),
            self.mapping,
            self.scope,
            str(base_dir),
            pl.__version__,
            sys.byteorder,
        )
        return store.FileIndex(path, digest)

    def build_index(self) -> store.Update:
        """Bring the persistent index up to date (what ``discover index build`` does)."""
        stored = self.file_index()
        if stored is None:
            return store.Update()
        with caches.busy_fails_the_build(self.name, stored.path):
            return stored.update(self._files(), self._index_file)[0]

    def index_status(self) -> dict[str, object] | None:
        """Where the persistent index is and what it holds; None when it is off."""
        stored = self.file_index()
        return None if stored is None else stored.status()

    def clear_index(self) -> bool:
        """Remove the persistent index and the workbook facts (the next search learns
        them again)."""
        stored = self.file_index()
        if stored is None:
            return False
        facts, kept = self.workbook_facts(), self.workbook_rows()
        with contextlib.suppress(SourceError):
            for path in self._files():
                facts.forget(path)
                kept.forget(path)
        return stored.clear()

    def _scan_indexed(
        self, stored: store.FileIndex, identifiers: Collection[Identifier]
    ) -> ScanResult:
        """Bring the index up to date, then read only the rows it points to.

        ``rows_read`` counts the rows fetched to be verified, as in a full read (the
        rows read to index a changed file are not counted: they are not searched).
        """
        _done, problems = stored.update(self._files(), self._index_file)
        view = _View(self, stored, stored.entries())
        result = self._scan(identifiers, view)
        result.warnings[:0] = problems
        return result

    def _index_file(self, path: Path, stamp: store.Stamp) -> store.FileEntry:
        """One file read in full: what its reading reports and the keys of its rows.

        A file with a problem (not readable, a sheet missing, parsing stopping
        part-way) is marked to be read in full by every search instead.
        """
        entry = store.FileEntry(str(path), stamp)
        # a parsed workbook sheet is not kept for the search's later rounds: they read
        # the rows the index points to (a workbook's from its kept cells)
        cache = self._reader_cache()
        for ordinal, item in enumerate(self._sheets([path], {k: cache[k] for k in (FACTS, ROWS)})):
            if isinstance(item, tuple):
                return store.FileEntry(str(path), stamp, reread=True)
            warnings, truncated = self._sheet_report(item)
            stored = store.SheetEntry(ordinal, item.location, warnings, truncated, item.missing)
            stored.decodes = item.decodes  # every byte checked as it was read just now
            try:
                frame = self._index_sheet(item, stored)
            except FileProblem:
                return store.FileEntry(str(path), stamp, reread=True)
            entry.keys[ordinal] = frame.select("key", "row")
            entry.sheets.append(stored)
        return entry

    def _repeated_rows(self, sheet: Sheet, key: pl.Expr) -> list[int]:
        """The rows whose key value is repeated in the sheet, in order.

        A pass of its own: telling a repeated value needs the whole column at once,
        and read beside the keys it added half as much again to the peak of indexing
        a 1,000,000-row log (one more read of the file, of one column).
        """
        query = sheet.raw.select(pl.col("__index"), key.is_duplicated().alias("repeated"))
        frame = self._collect(sheet, query.filter(pl.col("repeated")))
        return frame.get_column("__index").to_list()

    @staticmethod
    def _index_value(sheet: Sheet, spec: FieldSpec) -> pl.Expr:
        """What a field is indexed by: the candidate's key (from the stored text, as
        :meth:`_query` gives it to the candidate), else the field's value."""
        key = index_key(str(spec.identifier), _stored_text(sheet, spec))
        return sheet.fields[spec.name] if key is None else key

    def _index_sheet(self, sheet: Sheet, stored: store.SheetEntry) -> pl.DataFrame:
        """The keys of a sheet's rows (``key``, ``row``); what its reading reports into
        ``stored``.

        A CSV file larger than a part is read a part at a time (:mod:`csv_rows`): polars
        parses a whole file to give any of it, and a 1,000,000-row log's index then
        peaked at some 125 MB above the rest. The parts give exactly what the whole
        file gives, or the file is read whole (parts polars reads otherwise than the
        file, a file that changed meanwhile).
        """
        plan = self._index_plan(sheet)
        if sheet.parts is not None:
            try:
                return self._index_parts(sheet, stored, plan, sheet.parts())
            except (Untrusted, FileProblem) as exc:  # the whole file tells what is wrong
                log.debug("%s: indexed whole (%s)", sheet.location, exc)
        return self._index_whole(sheet, stored, plan)

    def _index_plan(self, sheet: Sheet) -> _IndexPlan:
        searched = [spec for spec in self.mapping.searchable if spec.name not in sheet.missing]
        relations: dict[int, pl.Expr] = {}
        for position, relation in enumerate(self.mapping.relations):
            if not any(name in sheet.missing for name in relation.same):
                relations[position] = self._relation_key(relation)(sheet)
        checked = [spec for spec in searched if spec.identifier in REPORTED]
        return _IndexPlan(searched, checked, relations)

    def _index_whole(
        self, sheet: Sheet, stored: store.SheetEntry, plan: _IndexPlan
    ) -> pl.DataFrame:
        """One pass over the file: the columns a key, a damage check or the text-column
        test of an ICCID needs are read once and worked on in memory (the rows whose
        key value is repeated are found in a pass before it)."""
        key = self.mapping.key
        repeated = [] if key is None else self._repeated_rows(sheet, sheet.fields[key])
        found = _Found()
        self._index_part(sheet, self._collect(sheet, self._index_query(sheet, plan)), plan, found)
        return self._index_done(sheet, stored, plan, found, repeated)

    def _index_parts(
        self,
        sheet: Sheet,
        stored: store.SheetEntry,
        plan: _IndexPlan,
        parts: Iterator[tuple[Sheet, int, int]],
    ) -> pl.DataFrame:
        """A part of the file at a time (Untrusted: the parts cannot be used).

        Of the whole file only a 64-bit hash of each row's key value is held (and
        whether it is empty); the rows whose hash repeats are read again to tell which
        values do.
        """
        key = self.mapping.key
        found = _Found()
        held = _KeyHashes()
        for part, skip, count in parts:
            extra = [] if key is None else held.columns(part.fields[key])
            frame = self._part_rows(part, self._index_query(part, plan, *extra), skip, count)
            del part  # the part's bytes
            give_back_freed()  # not kept in the C heap beside the next part's
            if key is not None:
                held.add(frame)
            self._index_part(sheet, frame, plan, found)
            del frame  # not held while the next part is parsed
        repeated = [] if key is None else self._repeated_values(sheet, key, held, found.rows)
        return self._index_done(sheet, stored, plan, found, repeated)

    def _repeated_values(self, sheet: Sheet, key: str, held: _KeyHashes, rows: int) -> list[int]:
        """The rows whose key value is repeated: the empty ones when there are two or
        more, and those of the values that repeat among the rows whose hash does."""
        empty = held.empty()
        candidates = held.candidates()
        if not candidates:
            return empty
        values = self._values_again(sheet, key, candidates, rows)
        if values.height != len(candidates):
            raise Untrusted("the rows of repeated keys are not as read before")
        repeated = values.filter(pl.col("__key").is_duplicated()).get_column("__index")
        return sorted([*empty, *repeated.to_list()])

    def _values_again(
        self, sheet: Sheet, key: str, candidates: list[int], rows: int
    ) -> pl.DataFrame:
        """The key values (``__index``, ``__key``) of the rows ``candidates``: a few read
        by their place in the file, many a part of the file at a time."""
        wanted = pl.col("__index").is_in(candidates)
        if len(candidates) <= _READ_BY_PLACE:
            subset = None if sheet.subset is None else sheet.subset(candidates, rows)
            if subset is None:
                raise Untrusted("the rows of repeated keys cannot be read again")
            query = subset.raw.filter(wanted)
            return self._collect(subset, query.select("__index", subset.fields[key].alias("__key")))
        assert sheet.parts is not None  # the parts gave the candidates
        found: list[pl.DataFrame] = []
        for part, skip, count in sheet.parts():
            query = part.raw.select("__index", part.fields[key].alias("__key"))
            found.append(self._part_rows(part, query, skip, count).filter(wanted))
            del part
        return pl.concat(found)

    def _part_rows(self, part: Sheet, query: pl.LazyFrame, skip: int, count: int) -> pl.DataFrame:
        """``query`` over a part of a file, without the ``skip`` rows parsed before the
        part's own; Untrusted when polars does not read the part's ``count`` records."""
        frame = self._collect(part, query)
        if frame.height != skip + count:
            raise Untrusted(f"polars reads {frame.height - skip} rows of {count} records")
        return frame.slice(skip)

    def _index_query(self, sheet: Sheet, plan: _IndexPlan, *extra: pl.Expr) -> pl.LazyFrame:
        fields = sheet.fields
        return sheet.raw.select(
            pl.col("__index"),
            sheet.row.alias(ROW),
            *[self._index_value(sheet, spec).alias(spec.name) for spec in plan.searched],
            *[fields[spec.name].alias(f"__field_{spec.name}") for spec in plan.checked],
            *[pl.col(spec.name).alias(f"__raw_{spec.name}") for spec in plan.checked],
            *[key.alias(f"__relation_{position}") for position, key in plan.relations.items()],
            *extra,
        )

    def _index_part(
        self, sheet: Sheet, frame: pl.DataFrame, plan: _IndexPlan, found: _Found
    ) -> None:
        """The keys, damaged values and ICCID text-column test of a part's rows (or of
        the whole sheet's) into ``found``."""
        found.rows += frame.height
        self._damage_of_part(sheet, frame, plan, found)
        keys = [indexing.keyed(frame, spec.name, str(spec.identifier)) for spec in plan.searched]
        keys += [
            indexing.related(frame, f"__relation_{position}", position)
            for position in plan.relations
        ]
        if keys:  # a row index is held in 32 bits (polars counts rows so) until stored
            found.keys.append(pl.concat(keys).with_columns(pl.col("row").cast(pl.UInt32)))

    def _damage_of_part(
        self, sheet: Sheet, frame: pl.DataFrame, plan: _IndexPlan, found: _Found
    ) -> None:
        """A part's damaged values (counted, the first rows kept) and whether its ICCID
        columns hold an ICCID no float prints, each in one query."""
        tests = {  # not again once a part held one: the column is text
            spec.name: holds_unrounded_iccids(pl.col(f"__raw_{spec.name}")).alias(spec.name)
            for spec in plan.checked
            if spec.identifier == "iccid" and not sheet.typed and not found.unrounded.get(spec.name)
        }
        if tests:
            for name, holds in frame.select(*tests.values()).row(0, named=True).items():
                found.unrounded[name] = found.unrounded.get(name, False) or bool(holds)
        flags: dict[tuple[str, bool], pl.Expr] = {}
        for spec in plan.checked:
            for typed in self._typed_choices(sheet, spec, found):
                field_value = pl.col(f"__field_{spec.name}")
                expression = damaged(str(spec.identifier), field_value, typed=typed)
                assert expression is not None  # every REPORTED type has a damage test
                flags[(spec.name, typed)] = expression.fill_null(False)
        if not flags:
            return
        names = [f"__damaged_{number}" for number in range(len(flags))]
        marked = [
            expression.alias(name) for expression, name in zip(flags.values(), names, strict=True)
        ]
        hits = frame.lazy().select(pl.col(ROW), *marked).filter(pl.any_horizontal(names)).collect()
        for slot, name in zip(flags, names, strict=True):
            hit = hits.get_column(ROW).filter(hits.get_column(name))
            count, rows = found.damage.get(slot, (0, []))
            rows = rows + hit.head(_SHOWN_ROWS - len(rows)).to_list()
            found.damage[slot] = (count + hit.len(), rows)

    def _typed_choices(self, sheet: Sheet, spec: FieldSpec, found: _Found) -> tuple[bool, ...]:
        """How a field's damage may be judged (:meth:`_typed`): both ways for an ICCID
        column whose text-column test is not decided yet (it is once a part held an
        ICCID no float prints, else when every part is read)."""
        if spec.identifier == "iccid" and not sheet.typed:
            known = sheet.text_columns.get(spec.name)
            if known is None and found.unrounded.get(spec.name):
                known = True
            return (False, True) if known is None else (known,)
        return (self._typed(sheet, spec),)

    def _index_done(
        self,
        sheet: Sheet,
        stored: store.SheetEntry,
        plan: _IndexPlan,
        found: _Found,
        repeated: list[int],
    ) -> pl.DataFrame:
        """What the parts gave, as the index stores it."""
        stored.repeated = repeated
        stored.rows = found.rows
        for spec in plan.checked:
            if spec.name in found.unrounded:
                sheet.text_columns.setdefault(spec.name, found.unrounded[spec.name])
            count, rows = found.damage.get((spec.name, self._typed(sheet, spec)), (0, []))
            if count:
                stored.damage[spec.name] = self._damage_warning(sheet, spec.name, count, rows)
        stored.text_columns = dict(sheet.text_columns)
        if not found.keys:
            return pl.DataFrame(schema={"key": pl.Int64, "row": pl.UInt32})
        return pl.concat(found.keys)  # a key twice for one row costs a few bytes, not a lookup

    # -- reading ----------------------------------------------------------------------

    def workbook_facts(self) -> WorkbookFacts:
        """Where facts about this source's workbooks are kept: beside its index, or
        nowhere when the index is off (they are then learnt on every search)."""
        return WorkbookFacts(caches.file_index_dir(self.source.connection, self.source.base_dir))

    def workbook_rows(self) -> WorkbookRows:
        """Where this source's workbook sheets are kept for its searches (beside its
        index; nowhere when the index is off): valid for one mapping and reader."""
        import fastexcel  # its version: another reader may give other text for a cell

        directory = caches.file_index_dir(self.source.connection, self.source.base_dir)
        settings = caches.settings_digest(
            "workbook-rows", 1, self.mapping, pl.__version__, fastexcel.__version__
        )
        return WorkbookRows(directory, settings)

    def _reader_cache(self) -> dict[Any, Any]:
        """What the readers keep for this connector, the workbook facts' and kept
        sheets' place included."""
        if FACTS not in self._cache:
            self._cache[FACTS] = self.workbook_facts()
            self._cache[ROWS] = self.workbook_rows  # made when a workbook is read
        return self._cache

    def _sheets(
        self,
        files: list[Path],
        cache: dict[Any, Any] | None = None,
        decodes: Callable[[Path], bool] | None = None,
        some_rows: bool = False,
    ) -> Iterator[Sheet | tuple[str, FileProblem]]:
        """Every sheet of ``files``; what the readers keep goes to ``cache`` (by default
        the connector's, kept for the search's later rounds); ``decodes`` and
        ``some_rows``: see :func:`read_sheets`."""
        for path in files:
            yield from read_sheets(
                path,
                self.mapping,
                base_dir=self.source.base_dir,
                scope=self.scope,
                cache=self._reader_cache() if cache is None else cache,
                decodes=decodes,
                some_rows=some_rows,
            )

    def _sheet_report(self, sheet: Sheet) -> tuple[list[str], bool]:
        """What a sheet's reading reports, whatever is searched: its notes and the
        columns it lacks; and whether that makes the result incomplete."""
        warnings = [f"{sheet.location}: {note}" for note in sheet.notes]
        truncated = sheet.truncated
        for name in sheet.missing:
            header = self.mapping.headers[name]
            if header.optional:
                continue
            warnings.append(
                f"{sheet.location}: no column {_names(header.names)} for field "
                f"{name}; that field was not read from this file "
                f"({self._read_headers(sheet, header.names)})"
            )
            truncated = True
        return warnings, truncated

    def _readable(self, result: ScanResult, view: _View | None = None) -> list[Sheet | _Stored]:
        """Every sheet that can be read; problems become warnings and truncate the result.

        With an index (``view``) a file it holds is not opened: what its reading
        reports was stored when it was indexed.
        """
        sheets: list[Sheet | _Stored] = []
        failures: list[str] = []
        for path in self._files():
            entry = None if view is None else view.entries.get(str(path))
            if entry is not None and not entry.reread:
                for stored_sheet in entry.sheets:
                    result.warnings.extend(stored_sheet.warnings)
                    result.truncated = result.truncated or stored_sheet.truncated
                    sheets.append(_Stored(path, stored_sheet))
                continue
            for item in self._sheets([path]):
                if isinstance(item, tuple):
                    location, problem = item
                    failures.append(
                        f"{location}: cannot be read: {problem}; its rows were not searched"
                    )
                    continue
                warnings, truncated = self._sheet_report(item)
                result.warnings.extend(warnings)
                result.truncated = result.truncated or truncated
                sheets.append(item)
        if failures and not sheets:
            raise SourceError(self.name, "; ".join(failures))
        if failures:
            result.warnings.extend(failures)
            result.truncated = True
        return sheets

    def _collect(self, sheet: Sheet, query: pl.LazyFrame) -> pl.DataFrame:
        try:
            return query.collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise FileProblem(reader_error(exc, sheet.column_names)) from exc

    # -- records ------------------------------------------------------------------------

    def _typed(self, sheet: Sheet, spec: FieldSpec) -> bool:
        """Whether an ICCID whose digits are exactly a double can be trusted here: in a
        workbook (cell types known) or in a column that holds ICCIDs no float prints."""
        if sheet.typed or spec.identifier != "iccid":
            return sheet.typed
        known = sheet.text_columns.get(spec.name)
        if known is None:
            try:
                known = bool(
                    sheet.raw.select(holds_unrounded_iccids(pl.col(spec.name))).collect().item()
                )
            except (pl.exceptions.PolarsError, OSError):
                known = False  # unreadable here: the scan reports it; stay careful
            sheet.text_columns[spec.name] = known
        return known

    def _key(self, sheet: Sheet, row: dict[str, Any]) -> str:
        key = self.mapping.key
        if key is not None and row.get(key) is not None and not row.get("__key_repeated"):
            return f"{key}={row[key]}"
        return f"row={row[ROW]}"

    def _record(self, sheet: Sheet, row: dict[str, Any]) -> Record:
        lifecycle = self.mapping.lifecycle
        retired = bool(
            lifecycle
            and row.get(lifecycle.field) is not None
            and header_text(row[lifecycle.field]) in lifecycle.retired
        )
        fields: list[FieldValue] = []
        recorded_at = None
        for name, spec in self.mapping.columns.items():
            value = row.get(name)
            if spec.secret:
                fields.append(FieldValue(spec, WITHHELD if value else None))
                continue
            if value is not None and spec.identifier:
                unusable = (
                    damage_reason(spec.identifier, value, typed=self._typed(sheet, spec))
                    is not None
                )
                recycled = retired and spec.identifier in lifecycle.recycled  # type: ignore[union-attr]
                if (unusable or recycled) and spec.expand:
                    spec = replace(spec, expand=False)
            if spec.recorded_at and recorded_at is None:
                recorded_at = parse_date(value)
            fields.append(FieldValue(spec, value))
        record = Record(
            location=sheet.location,
            key=self._key(sheet, row),
            fields=fields,
            entity=self.mapping.entity,
            recorded_at=recorded_at,
        )
        return record

    def _verify(
        self,
        sheet: Sheet,
        record: Record,
        row: dict[str, Any],
        wanted: dict[str, dict[str, Identifier]],
        result: ScanResult,
    ) -> bool:
        """Keep only matches that hold after normalisation; False if the row is the
        former holder's (retired, matched only on a recycled identifier)."""
        for value in record.fields:
            spec = value.spec
            if not spec.searchable or value.value is None or spec.identifier not in wanted:
                continue
            damage = damage_reason(spec.identifier, value.value, typed=self._typed(sheet, spec))
            if damage is not None:
                reason, in_bulk = damage
                if not in_bulk:
                    column = sheet.headers.get(spec.name, spec.name)
                    result.warnings.append(
                        f"{sheet.location} row {row[ROW]}: column {column!r} ({spec.name}) "
                        f"is unreadable as {spec.identifier}: {reason}; not matched"
                    )
                continue
            normalised = try_normalise(spec.identifier, value.value)
            identifier = wanted[spec.identifier].get(normalised) if normalised else None
            if identifier is not None:
                exact = str(value.value) == identifier.value
                record.matches.append(Match(identifier, spec.name, exact))
        lifecycle = self.mapping.lifecycle
        if lifecycle and record.matches:
            status = row.get(lifecycle.field)
            if status is not None and header_text(status) in lifecycle.retired:
                kept = [m for m in record.matches if m.identifier.type not in lifecycle.recycled]
                if not kept:
                    record.matches = []
                    return False
                record.matches = kept
        return True

    # -- scanning -------------------------------------------------------------------------

    def _damage_warning(self, sheet: Sheet, name: str, count: int, rows: list[int]) -> str:
        spec = self.mapping.columns[name]
        column = sheet.headers.get(name, name)
        return (
            f"{sheet.location}: {count} value(s) in column {column!r} ({name}) are "
            f"unreadable as {spec.identifier}: a spreadsheet stored them as numbers and "
            f"digits were lost ({_rows(rows, count)}); they are never matched"
        )

    def _report_damage(
        self, sheet: Sheet, frame: pl.DataFrame, flags: dict[str, str], result: ScanResult
    ) -> None:
        for name, flag in flags.items():
            hit = frame.filter(pl.col(flag))
            if hit.height == 0:
                continue
            rows = hit.get_column(ROW).head(_SHOWN_ROWS).to_list()
            result.warnings.append(self._damage_warning(sheet, name, hit.height, rows))

    def _searched(
        self, missing: Collection[str], wanted: dict[str, dict[str, Identifier]]
    ) -> list[FieldSpec]:
        return [
            spec
            for spec in self.mapping.searchable
            if spec.identifier in wanted and spec.name not in missing
        ]

    def _query(
        self,
        sheet: Sheet,
        wanted: dict[str, dict[str, Identifier]],
        rows: Collection[int] | None = None,
    ) -> tuple[pl.LazyFrame, dict[str, str]] | None:
        """Candidate rows and rows with damaged identifiers, one pass over the sheet.

        With ``rows`` (row indexes an index points to) only those rows are kept, and
        damaged values are not looked for (the index reports them).
        """
        searched = self._searched(sheet.missing, wanted)
        if not searched:
            return None
        fields = sheet.fields
        clauses = [
            candidate(spec.identifier, _stored_text(sheet, spec), wanted[spec.identifier].values())
            for spec in searched
        ]
        matched = pl.any_horizontal(clauses).fill_null(False)
        flags: dict[str, str] = {}
        damage: list[pl.Expr] = []
        if rows is not None:
            keep = pl.col("__index").is_in(sorted(rows)) & matched
            extra = [matched.alias("__candidate")]
            return self._with_key(sheet).query(keep, *extra, *self._key_column()), flags
        for index, spec in enumerate(searched):
            expression = damaged(spec.identifier, fields[spec.name], typed=self._typed(sheet, spec))
            if expression is not None:
                flags[spec.name] = f"__damaged_{index}"
                damage.append(expression.fill_null(False))
        keep = pl.any_horizontal(matched, *damage) if damage else matched
        extra = [matched.alias("__candidate")]
        extra += [expr.alias(flag) for expr, flag in zip(damage, flags.values(), strict=True)]
        return self._with_key(sheet).query(keep, *extra, *self._key_column()), flags

    def _run(
        self,
        sheet: Sheet,
        planned: tuple[pl.LazyFrame, dict[str, str]],
        wanted: dict[str, dict[str, Identifier]],
        result: ScanResult,
    ) -> tuple[Sheet, pl.DataFrame, dict[str, str]]:
        """Collect a planned query; a CSV that fails to parse is read up to the failure.

        The rows before the line where parsing stopped are searched, the line is
        named in a warning and the result is truncated (the rows after it are not).
        """
        query, flags = planned
        try:
            return sheet, self._collect(sheet, query), flags
        except FileProblem as exc:
            if sheet.repair is None:
                raise
            sheet = sheet.repair(str(exc))
        for note in sheet.notes:
            result.warnings.append(f"{sheet.location}: {note}")
        result.truncated = True
        replanned = self._query(sheet, wanted)
        assert replanned is not None  # the same fields as the sheet it repairs
        query, flags = replanned
        return sheet, self._collect(sheet, query), flags

    def _run_stored(
        self,
        item: _Stored,
        view: _View,
        wanted: dict[str, dict[str, Identifier]],
        result: ScanResult,
    ) -> pl.DataFrame | None:
        """The candidate rows of an indexed sheet: read only when the index points to
        rows in it (None: it was not opened). Its damaged values are reported as
        indexed."""
        searched = self._searched(item.entry.missing, wanted)
        rows = view.rows(item)
        frame = None
        if rows:
            sheet = view.open(item, rows)
            planned = self._query(sheet, wanted, rows)
            if planned is None:  # it lacks more columns than when it was indexed
                raise FileProblem("the file changed while it was searched")
            frame = self._collect(sheet, planned[0])
            result.rows_read += frame.height
        for spec in searched:
            if spec.name in item.entry.damage:
                result.warnings.append(item.entry.damage[spec.name])
        return frame

    def _with_key(self, sheet: Sheet) -> Sheet:
        """The sheet with ``__key_repeated`` (a declared key's value is not unique)."""
        key = self.mapping.key
        if key is None:
            return sheet
        if sheet.repeated_rows is not None:  # some rows only: the index knows the others
            repeated = pl.col("__index").is_in(sorted(sheet.repeated_rows))
            return replace(sheet, raw=sheet.raw.with_columns(repeated.alias("__key_repeated")))
        repeated = sheet.fields[key].is_duplicated().alias("__key_repeated")
        return replace(sheet, raw=sheet.raw.with_columns(repeated))

    def _key_column(self) -> list[pl.Expr]:
        return [pl.col("__key_repeated")] if self.mapping.key is not None else []

    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        stored = self.file_index()
        problem: str | None = None
        if stored is not None:
            try:
                return self._scan_indexed(stored, identifiers)
            # an unwritable cache, an index another search damaged meanwhile, or one
            # another process keeps locked (its build hangs)
            except (OSError, sqlite3.Error, store.IndexUnreadable, caches.IndexBusy) as exc:
                problem = f"file index {stored.path} cannot be used ({exc}); every file was read"
                log.warning("%s", problem)
        result = self._scan(identifiers)
        if problem:
            result.warnings.insert(0, problem)
        return result

    def _scan(self, identifiers: Collection[Identifier], view: _View | None = None) -> ScanResult:
        """Search every file, or (with ``view``) the rows the index points to."""
        wanted = wanted_index(identifiers)
        result = ScanResult()
        sheets = self._readable(result, view)
        if view is not None:
            keys = indexing.wanted_keys(identifiers)
            view.everything = keys is None
            view.look_up(keys or [])
        found: dict[tuple[str, str], Record] = {}
        retired_left_out: dict[str, list[int]] = defaultdict(list)
        readable: list[Sheet | _Stored] = []
        failed: list[str] = []
        for item in sheets:
            if isinstance(item, _Stored) and view is not None and view.everything:
                try:
                    item = view.open(item)  # searched below as without the index
                except FileProblem as exc:
                    failed.append(f"{item.location}: cannot be read: {exc}")
                    continue
            if isinstance(item, _Stored):
                assert view is not None
                try:
                    frame = self._run_stored(item, view, wanted, result)
                except FileProblem as exc:
                    failed.append(f"{item.entry.location}: cannot be read: {exc}")
                    continue
                readable.append(item)
                if frame is None:
                    continue
                sheet = view.open(item, view.rows(item))
            else:
                planned = self._query(item, wanted)
                if planned is None:
                    readable.append(item)
                    continue
                try:
                    sheet, frame, flags = self._run(item, planned, wanted, result)
                except FileProblem as exc:
                    failed.append(f"{item.location}: cannot be read: {exc}")
                    continue
                readable.append(sheet)
                result.rows_read += frame.height
                self._report_damage(sheet, frame, flags, result)
            for row in frame.filter(pl.col("__candidate")).iter_rows(named=True):
                record = self._record(sheet, row)
                if record.ref in found:
                    continue
                if not self._verify(sheet, record, row, wanted, result):
                    retired_left_out[sheet.location].append(row[ROW])
                    continue
                if record.matches:
                    found[record.ref] = record
        if failed and not readable:
            raise SourceError(self.name, "; ".join(failed))
        if failed:
            result.warnings.extend(f"{text}; its rows were not searched" for text in failed)
            result.truncated = True
        for location, rows in retired_left_out.items():
            result.warnings.append(
                f"{location}: {len(rows)} retired row(s) held a searched identifier that is "
                f"re-issued to new holders ({_rows(sorted(rows), len(rows))}); a retired row "
                "belongs to its former holder, so they were left out"
            )
        related = self._follow_relations(readable, list(found.values()), result, view)
        result.records = [*found.values(), *related]
        return result

    # -- relations --------------------------------------------------------------------------

    @staticmethod
    def _relation_key(relation: Relation) -> Callable[[Sheet], pl.Expr]:
        def build(sheet: Sheet) -> pl.Expr:
            parts = [sheet.fields[name].str.to_lowercase() for name in relation.same]
            return pl.concat_str(parts, separator="\x1f") if len(parts) > 1 else parts[0]

        return build

    @staticmethod
    def _relation_value(relation: Relation, record: Record) -> str | None:
        parts = []
        for name in relation.same:
            value = record.value(name)
            if value is None or value is WITHHELD:
                return None
            parts.append(str(value).strip().lower())
        return "\x1f".join(parts)

    def _follow_relations(
        self,
        sheets: list[Sheet | _Stored],
        matched: list[Record],
        result: ScanResult,
        view: _View | None = None,
    ) -> list[Record]:
        """Rows sharing a relation's values with a matched row, linked to that row.

        For a third_party relation every related row is a separate record marked
        third_party (even a row that is itself matched: that one is matched for its
        own holder, and the engine hands each subject the right view). For an own-data
        relation a matched row just gains the link.
        """
        if not matched or not self.mapping.relations:
            return []
        by_ref = {record.ref: record for record in matched}
        related: dict[tuple[str, str, bool], Record] = {}
        for position, relation in enumerate(self.mapping.relations):
            parents: dict[str, list[Record]] = defaultdict(list)
            for record in matched:
                value = self._relation_value(relation, record)
                if value is not None:
                    parents[value].append(record)
            if not parents:
                continue
            if view is not None:
                view.look_up(indexing.relation_keys(position, parents), tag=position)
            key = self._relation_key(relation)
            for item in sheets:
                if any(name in item.missing for name in relation.same):
                    continue
                location = item.location
                try:
                    if isinstance(item, _Stored):
                        assert view is not None
                        within = view.rows(item, position)
                        if not within:
                            continue  # the index holds no related row here: not opened
                        sheet = view.open(item, within)
                        keep = pl.col("__index").is_in(sorted(within))
                    else:
                        sheet, keep = item, None
                    relation_key = key(sheet)
                    related_rows = relation_key.is_in(sorted(parents))
                    query = self._with_key(sheet).query(
                        related_rows if keep is None else keep & related_rows,
                        relation_key.alias("__relation"),
                        *self._key_column(),
                    )
                    rows = self._collect(sheet, query)
                except FileProblem as exc:
                    result.warnings.append(
                        f"{location}: cannot be read: {exc}; related rows were not read"
                    )
                    result.truncated = True
                    continue
                result.rows_read += rows.height
                for row in rows.iter_rows(named=True):
                    child = self._record(sheet, row)
                    for parent in parents[row["__relation"]]:
                        if parent.ref == child.ref:
                            continue
                        link = Link(parent.location, parent.key, relation.label)
                        if not relation.third_party and child.ref in by_ref:
                            target = by_ref[child.ref]
                        else:
                            slot = (*child.ref, relation.third_party)
                            target = related.setdefault(slot, child)
                            target.third_party = relation.third_party
                        if link not in target.links:
                            target.links.append(link)
        return [record for record in related.values() if record.links]


@dataclass(slots=True)
class _IndexPlan:
    """What a sheet's index is computed from: the searched fields, those whose damaged
    values are reported, and the relation keys by position."""

    searched: list[FieldSpec]
    checked: list[FieldSpec]
    relations: dict[int, pl.Expr]


@dataclass(slots=True)
class _Found:
    """What the parts of a sheet read so far gave for its index."""

    rows: int = 0
    keys: list[pl.DataFrame] = field(default_factory=list)
    #: (field, judged as typed) -> damaged values counted, the first rows of them
    damage: dict[tuple[str, bool], tuple[int, list[int]]] = field(default_factory=dict)
    #: ICCID field -> whether a part held an ICCID no float prints
    unrounded: dict[str, bool] = field(default_factory=dict)


@dataclass(slots=True)
class _KeyHashes:
    """A 64-bit hash of every row's key value, and whether it is empty, part by part:
    what is held of the whole file to tell the rows whose key value repeats."""

    hashes: list[np.ndarray] = field(default_factory=list)
    empties: list[np.ndarray] = field(default_factory=list)

    @staticmethod
    def columns(value: pl.Expr) -> list[pl.Expr]:
        """What a part's query computes of the key value."""
        return [value.hash(seed=_SEED).alias("__key"), value.is_null().alias("__key_empty")]

    def add(self, frame: pl.DataFrame) -> None:
        self.hashes.append(frame.get_column("__key").to_numpy())
        self.empties.append(frame.get_column("__key_empty").to_numpy())

    def empty(self) -> list[int]:
        """The rows without a key value when there are two or more (empty values are
        equal to each other, as polars tells duplicates)."""
        rows = self._rows(self.empties)
        return rows if len(rows) > 1 else []

    def candidates(self) -> list[int]:
        """The rows with a key value whose hash another row's value has too.

        Found in a sorted copy of the hashes, then looked up part by part: no index of
        the sort is made, nor a table of every hash.
        """
        import numpy as np  # an index build's only: not loaded for a search

        if not self.hashes:
            return []
        ordered = np.concatenate(self.hashes)
        empty = np.concatenate(self.empties)
        if empty.any():
            ordered = ordered[~empty]
        del empty
        ordered.sort()
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        found = [
            np.isin(hashes, repeated) & ~empty
            for hashes, empty in zip(self.hashes, self.empties, strict=True)
        ]
        return self._rows(found)

    @staticmethod
    def _rows(flags: list[np.ndarray]) -> list[int]:
        """The rows (their place across the parts) flagged."""
        import numpy as np  # an index build's only: not loaded for a search

        rows: list[int] = []
        start = 0
        for part in flags:
            rows += (np.flatnonzero(part) + start).tolist()
            start += len(part)
        return rows


@dataclass(slots=True)
class _Stored:
    """A sheet of an indexed file: what its reading reports, as stored; the file is
    opened only when the index points to rows in it."""

    path: Path
    entry: store.SheetEntry

    @property
    def location(self) -> str:
        return self.entry.location

    @property
    def missing(self) -> list[str]:
        return self.entry.missing


@dataclass(slots=True)
class _View:
    """One search's view of the index: the stored files, the rows found for the keys
    looked up so far, and the sheets opened (each at most once)."""

    connector: TabularConnector
    index: store.FileIndex
    entries: dict[str, store.FileEntry]
    #: (path, sheet ordinal, "identifiers" or a relation's position) -> row indexes
    hits: dict[tuple[str, int, str | int], set[int]] = field(default_factory=dict)
    opened: dict[tuple[str, int], Sheet] = field(default_factory=dict)
    #: sheets over some rows only, by file, sheet and rows
    parts: dict[tuple[str, int, frozenset[int]], Sheet] = field(default_factory=dict)
    #: the index cannot answer this search: every sheet is read as without it
    everything: bool = False

    def look_up(self, keys: list[int], tag: str | int = "identifiers") -> None:
        for path, sheets in self.index.lookup(keys).items():
            for ordinal, rows in sheets.items():
                self.hits.setdefault((path, ordinal, tag), set()).update(rows)

    def rows(self, item: _Stored, tag: str | int = "identifiers") -> set[int]:
        """The row indexes of ``item`` found for the identifiers or for a relation."""
        return self.hits.get((str(item.path), item.entry.ordinal, tag), set())

    def open(self, item: _Stored, rows: Collection[int] | None = None) -> Sheet:
        """The sheet itself, read as a full search reads it (FileProblem: it cannot be).

        With ``rows``: the sheet over those rows only, a CSV's read by their place in
        the file, a workbook's taken from its parsed sheet (the whole sheet when that
        cannot be trusted: another number of rows than indexed, see :mod:`csv_rows`).
        """
        if rows is None or item.entry.repeated is None:
            return self._open(item)
        slot = (str(item.path), item.entry.ordinal, frozenset(rows))
        if slot not in self.parts:
            self.parts[slot] = self._part(item, rows) or self._open(item)
        return self.parts[slot]

    def _part(self, item: _Stored, rows: Collection[int]) -> Sheet | None:
        """A CSV or workbook sheet over ``rows`` only; None: read it whole."""
        connector = self.connector
        if file_format(item.path, connector.mapping) == "excel":
            cache = connector._reader_cache()
            # a workbook costs a parse of its whole sheet per load: the rows loaded are
            # kept for the search's later rounds, and loaded again only for new rows
            status = item.path.stat()
            slot = ("rows", str(item.path), item.entry.ordinal, status.st_mtime_ns, status.st_size)
            held: tuple[frozenset[int], Sheet] | None = cache.get(slot)
            if held is not None and held[0].issuperset(rows):
                return held[1]
            wanted = frozenset(rows) | (held[0] if held is not None else frozenset())
            part = excel_rows(
                item.path,
                connector.mapping,
                base_dir=connector.source.base_dir,
                scope=connector.scope,
                cache=cache,
                ordinal=item.entry.ordinal,
                rows=wanted,
                expected=item.entry.rows,
            )
            if part is not None:
                cache[slot] = (wanted, part)
        else:
            full = self._open(item)  # a CSV: nothing parsed yet
            part = None if full.subset is None else full.subset(rows, item.entry.rows)
        if part is not None:
            part.text_columns.update(item.entry.text_columns)
            part.repeated_rows = frozenset(item.entry.repeated or ())
        return part

    def _open(self, item: _Stored) -> Sheet:
        slot = (str(item.path), item.entry.ordinal)
        if slot not in self.opened:
            sheets = self.connector._sheets([item.path], decodes=self._decodes, some_rows=True)
            for ordinal, opened in enumerate(sheets):
                if ordinal != item.entry.ordinal:
                    continue
                if isinstance(opened, tuple):
                    raise opened[1]
                opened.text_columns.update(item.entry.text_columns)
                self.opened[slot] = opened
                break
            else:
                raise FileProblem("the file changed while it was searched")
        return self.opened[slot]

    def _decodes(self, path: Path) -> bool:
        """Whether every byte of ``path`` was found to decode in its encoding (one byte a
        character, or UTF-16) when it was indexed, and the file is still the one indexed
        (its stamp, as the index's update compares it): its bytes are then not checked
        again. A file changed since (even between that update and this read) is
        checked."""
        entry = self.entries.get(str(path))
        if entry is None or entry.stamp is None or not entry.sheets:
            return False
        if not all(sheet.decodes for sheet in entry.sheets):
            return False
        return store.stamp_of(path) == entry.stamp
