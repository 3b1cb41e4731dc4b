"""Reading tabular files into lazy frames of mapped fields.

Each file (and each selected sheet of a workbook) becomes a :class:`Sheet`: a polars
LazyFrame with one String column per mapped field, secrets reduced to "present or
not", and ``__row``, the row number a person sees in a spreadsheet application (the
header rows included, empty rows counted). Nothing is filtered here: the connector
adds the candidate filter, which polars pushes down into the CSV and Parquet
readers.

* CSV: the header rows are read with the ``csv`` module (a few lines), the data with
  ``polars.scan_csv`` (lazy, every column as text, so that 0612345678 keeps its zero).
  A file cut off in the middle of its last row is read without that row and reported.
* XLSX/XLS/ODS: fastexcel (calamine) loads the sheet once, every cell as text, with
  absolute row positions; the loaded frame is kept for the connector's later rounds.
* Parquet: ``polars.scan_parquet``, columns by name, cast to text.

Anything that makes a file unreadable raises :class:`FileProblem` with a message for
privacy staff; the connector reports it and goes on with the other files.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import glob
import io
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from connectors.heap import give_back_freed
from connectors.safe_files import (
    check_archive,
    check_regular,
    open_regular,
    printable,
    readable_by_name,
)
from connectors.tabular import csv_rows
from connectors.tabular.csv_rows import BYTES, read_records, record_parts, utf16_unit
from connectors.tabular.exprs import clean, integral, scoped_extension
from connectors.tabular.mapping import DIGIT_TYPES, TabularMapping, header_text
from connectors.tabular.workbook_facts import Stamp, WorkbookFacts, as_runs, from_runs
from connectors.tabular.workbook_rows import ROWS, Copy, WorkbookRows, content_digest, reduced

ROW = "__row"
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DELIMITERS = (";", ",", "\t", "|")
_SNIFF_BYTES = 64 * 1024


#: the key of the :class:`WorkbookFacts` in a reader cache
FACTS = "workbook-facts"


class FileProblem(Exception):
    """A file (or sheet) cannot be read; the message says why, without cell values."""


@dataclass(slots=True)
class Sheet:
    """One file, or one sheet of a workbook, ready to be queried.

    ``raw`` holds the stored text of each mapped column under its field's name (and
    ``__index``); ``fields`` are the expressions that turn it into the field's value.
    A query filters ``raw`` with predicates built on ``fields`` (so polars can push
    the filter into the reader) and computes the fields for the surviving rows only.
    """

    path: Path
    sheet: str | None
    location: str
    raw: pl.LazyFrame
    fields: dict[str, pl.Expr]
    row: pl.Expr
    headers: dict[str, str] = field(default_factory=dict)  # field -> header text found
    missing: list[str] = field(default_factory=list)  # fields whose column is absent
    notes: list[str] = field(default_factory=list)  # problems worth a warning
    truncated: bool = False
    column_names: dict[str, str] = field(default_factory=dict)  # reader column -> header
    header_texts: tuple[str, ...] = ()  # every header text read, for messages
    #: a CSV that fails to parse: the same sheet over the rows before the failure
    repair: Callable[[str], Sheet] | None = None
    #: the cell types are known (a workbook): an ICCID in a text cell is trusted as
    #: typed, one in a number cell was turned into scientific notation (digits lost)
    typed: bool = False
    #: per ICCID field: whether its column was kept as text (see ``typed_for``)
    text_columns: dict[str, bool] = field(default_factory=dict)
    #: a CSV file: the same sheet over some data rows only, read by their place in the
    #: file (``rows``, the data rows the file is known to hold); None: it cannot be
    subset: Callable[[Collection[int], int], Sheet | None] | None = None
    #: a sheet over some rows only: the rows whose key value is repeated in the file
    repeated_rows: frozenset[int] | None = None
    #: a CSV file larger than a part: the same sheet a part of the file at a time, for
    #: its index (its ``__index`` the file's own), each with the number of rows parsed
    #: before the part's own and the number of its records; the parts raise
    #: :class:`Untrusted` when they cannot be used (the file is then read whole). None:
    #: the file is read whole
    parts: Callable[[], Iterator[tuple[Sheet, int, int]]] | None = None
    #: a CSV file in another encoding than UTF-8 (one byte a character, UTF-16) every
    #: byte of which decodes: checked or transcoded as it was read, or known from its
    #: index (see :func:`read_sheets`)
    decodes: bool = False

    def query(self, keep: pl.Expr, *extra: pl.Expr) -> pl.LazyFrame:
        """The rows where ``keep`` holds, as ``__row`` plus one column per field."""
        columns = [expr.alias(name) for name, expr in self.fields.items()]
        return self.raw.filter(keep).select(self.row.alias(ROW), *columns, *extra)


# -- which files ----------------------------------------------------------------------


def _patterns(connection: dict[str, Any]) -> list[str]:
    raw = connection.get("path")
    if raw is None:
        return []
    return [str(item) for item in raw] if isinstance(raw, list) else [str(raw)]


def resolve_files(connection: dict[str, Any], base_dir: Path) -> tuple[list[Path], list[str]]:
    """The files named by ``connection.path`` (globs allowed), and patterns that match none."""
    files: dict[Path, None] = {}
    unmatched: list[str] = []
    for pattern in _patterns(connection):
        path = Path(os.path.expanduser(pattern))
        if not path.is_absolute():
            path = base_dir / path
        # A FIFO or device that is named or matched is kept, to be refused by name
        # when it is read; only directories are passed over.
        if glob.has_magic(str(path)):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            found = [p for p in found if not p.is_dir()]
        else:
            found = [path] if path.exists() and not path.is_dir() else []
        if not found:
            unmatched.append(pattern)
        files.update(dict.fromkeys(found))
    return list(files), unmatched


def file_format(path: Path, mapping: TabularMapping) -> str:
    """csv, excel or parquet: as the mapping says, else by the file's extension."""
    if mapping.read.format != "auto":
        return mapping.read.format
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _EXCEL_SUFFIXES:
        return "excel"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    raise FileProblem(f"unknown file type {suffix or '(none)'!r}; set read.format in the mapping")


def location_of(path: Path, sheet: str | None, base_dir: Path) -> str:
    """The file relative to the sources file where possible, with ``#sheet``."""
    try:
        shown = path.resolve().relative_to(base_dir.resolve()).as_posix()
    except (ValueError, RuntimeError, OSError):  # elsewhere, or a link loop
        try:
            shown = path.absolute().relative_to(base_dir.absolute()).as_posix()
        except ValueError:
            shown = path.as_posix()
    shown = printable(shown)
    return f"{shown}#{sheet}" if sheet is not None else shown


# -- headers ----------------------------------------------------------------------------


def bottom_names(rows: list[list[Any]], width: int) -> list[str]:
    """The lowest header row's own texts (no merging applied)."""
    last = [("" if c is None else str(c)).strip() for c in rows[-1]] if rows else []
    return last + [""] * (width - len(last))


def header_names(rows: list[list[Any]], width: int, *, span: int) -> list[str]:
    """Column names from the header rows, tolerating merged cells.

    A merged cell keeps its text in its first cell only. Across columns, a blank
    cell takes the text on its left (in the upper header rows, or in a one-row
    header); down rows, the texts of one column are joined ("Telefoon" over
    "mobiel" -> "Telefoon mobiel"). Repeated names get " (2)", " (3)".
    """
    grid = [[("" if c is None else str(c)).strip() for c in row] for row in rows[-span:]]
    for row in grid:
        row.extend([""] * (width - len(row)))
    for index, row in enumerate(grid):
        if index < len(grid) - 1 or len(grid) == 1:
            for column in range(1, width):
                if not row[column]:
                    row[column] = row[column - 1]
    names: list[str] = []
    seen: dict[str, int] = {}
    for column in range(width):
        parts: list[str] = []
        for row in grid:
            if row[column] and row[column] not in parts:
                parts.append(row[column])
        name = " ".join(parts)
        key = header_text(name)
        seen[key] = seen.get(key, 0) + 1
        names.append(name if seen[key] == 1 or not key else f"{name} ({seen[key]})")
    return names


def _match_headers(
    names: list[str], mapping: TabularMapping, bottom: list[str] | None = None
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """field -> column position and header text found; fields whose column is absent.

    A header is found by its full name ("SIM ICCID" under a merged "SIM" group) or
    by the text of the lowest header row alone ("ICCID") when that is unique.
    """
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        positions.setdefault(header_text(name), position)
    if bottom:
        counts: dict[str, int] = {}
        for text in bottom:
            counts[header_text(text)] = counts.get(header_text(text), 0) + 1
        for position, text in enumerate(bottom):
            key = header_text(text)
            if key and counts[key] == 1:
                positions.setdefault(key, position)
    found: dict[str, int] = {}
    shown: dict[str, str] = {}
    missing: list[str] = []
    for name, header in mapping.headers.items():
        for candidate in header.names:
            position = positions.get(header_text(candidate))
            if position is not None:
                found[name] = position
                shown[name] = names[position]
                break
        else:
            missing.append(name)
    return found, shown, missing


# -- frames -----------------------------------------------------------------------------


def _fields(mapping: TabularMapping, scope: str | None) -> dict[str, pl.Expr]:
    """The mapped fields from raw text columns: cleaned, secrets as booleans, scoped."""
    scope_expr: pl.Expr | None = None
    if mapping.scope.source == "column" and mapping.scope.field:
        scope_expr = clean(pl.col(mapping.scope.field))
    elif mapping.scope.source == "source" and scope:
        scope_expr = pl.lit(scope)
    exprs: dict[str, pl.Expr] = {}
    for name, spec in mapping.columns.items():
        text = clean(pl.col(name))
        if spec.secret:
            exprs[name] = text.is_not_null()
        elif spec.identifier == "extension":
            exprs[name] = scoped_extension(text, scope_expr)
        elif spec.identifier in DIGIT_TYPES:
            exprs[name] = integral(text)
        else:
            exprs[name] = text
    return exprs


def _sheet(
    frame: pl.LazyFrame,
    columns: dict[str, str | None],
    mapping: TabularMapping,
    scope: str | None,
    row_offset: int,
    index_offset: int = 0,
    **details: Any,
) -> Sheet:
    """A Sheet from a frame (``columns``: field -> source column, None when absent);
    ``index_offset``: the ``__index`` of its first row (a part of a file)."""
    raw = [
        (pl.col(source).cast(pl.String) if source is not None else pl.lit(None, pl.String)).alias(
            name
        )
        for name, source in columns.items()
    ]
    return Sheet(
        raw=frame.with_row_index("__index", offset=index_offset).select(pl.col("__index"), *raw),
        fields=_fields(mapping, scope),
        row=pl.col("__index").cast(pl.Int64) + row_offset + 1,
        **details,
    )


def _decode_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _read_head(path: Path, encoding: str) -> bytes:
    with open_regular(path) as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head:
        raise FileProblem("the file is empty")
    if b"\x00" in head and not encoding.startswith("utf-16"):
        raise FileProblem("binary data, not CSV text")
    return head


def _sniff(text: str, quote: str) -> str:
    """The delimiter giving the most fields per row, consistently, on the first rows."""
    best, best_fields = ",", 1
    for delimiter in _DELIMITERS:
        counts: dict[int, int] = {}
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote)
        try:
            for index, row in enumerate(reader):
                if index >= 20:
                    break
                if row:
                    counts[len(row)] = counts.get(len(row), 0) + 1
        except csv.Error:
            continue
        if not counts:
            continue
        common = max(counts, key=lambda n: (counts[n], n))
        if common > best_fields:
            best, best_fields = delimiter, common
    return best


def _csv_sheet(
    path: Path,
    mapping: TabularMapping,
    location: str,
    scope: str | None,
    cache: dict[Any, Any],
    decodes: Callable[[Path], bool] | None = None,
    some_rows: bool = False,
) -> Sheet:
    options = mapping.read
    encoding = options.encoding
    head = _read_head(path, encoding)
    utf8 = encoding in ("utf-8", "utf-8-sig")
    python_encoding = "utf-8-sig" if utf8 else encoding

    def whole_utf8() -> bytes:
        """The whole file as polars reads it (UTF-8)."""
        return _file_bytes(path) if utf8 else _transcoded(path, encoding)

    def as_utf8(data: bytes) -> bytes:
        """Some of the file's bytes (its records, a part) as polars reads them (UTF-8);
        FileProblem when they do not decode (the callers then read the whole file,
        which names the byte with its place)."""
        if utf8:
            return data
        try:
            return data.decode(encoding).encode()
        except UnicodeDecodeError as exc:
            raise FileProblem(f"not {encoding} text (byte {exc.start})") from None

    try:
        head_text = head.decode(python_encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not a character cut by the read or the file's end
            raise FileProblem(
                f"not {encoding} text (byte {exc.start}); set read.encoding in the mapping"
            ) from None
        head_text = head[: exc.start].decode(python_encoding)
    delimiter = options.delimiter
    delimiter = {"tab": "\t", "auto": None}.get(delimiter, delimiter) or _sniff(
        head_text, options.quote
    )
    header_end = options.header_row - 1 + options.header_rows
    reader = csv.reader(io.StringIO(head_text), delimiter=delimiter, quotechar=options.quote)
    try:
        rows = [row for _, row in zip(range(header_end), reader, strict=False)]
    except csv.Error as exc:
        raise FileProblem(f"the header cannot be parsed as CSV ({exc})") from None
    if len(rows) < header_end:
        raise FileProblem(f"has fewer than {header_end} rows: no header at row {header_end}")
    width = max(len(row) for row in rows[options.header_row - 1 :])
    names = header_names(rows, width, span=options.header_rows)
    found, shown, missing = _match_headers(names, mapping, bottom_names(rows, width))

    notes: list[str] = []
    truncated = False
    # what polars scans when it reads the whole file: a UTF-8 file as it is (by name,
    # or its bytes when the name is not UTF-8), another one's UTF-8 once transcoded
    source: Any = readable_by_name(path) if utf8 else None
    single_byte = not utf8 and _single_byte(encoding)
    # UTF-16: its records are found a code unit of two bytes at a time (csv_rows), when
    # some rows are read; a file read whole is transcoded at once (polars then parses
    # only the columns a query needs, not every one as from a deferred transcoding)
    unit = None if utf8 or single_byte else utf16_unit(encoding, head)
    if unit is not None and len(options.quote.encode("utf-16-le")) != 2:
        unit = None  # a quote of two code units is not followed
    by_place = utf8 or single_byte or (unit is not None and some_rows)
    if by_place:  # read lazily from the file; only its tail is looked at here
        size = path.stat().st_size
        with open_regular(path) as handle:
            start = max(0, size - _SNIFF_BYTES)
            handle.seek(start - start % 2 if unit is not None else start)
            tail = handle.read().decode(_tail_encoding(python_encoding, unit), errors="replace")
        if not utf8 and not (decodes is not None and decodes(path)):
            _check_decodes(path, encoding)
    else:  # transcoded in memory, a megabyte at a time: polars reads UTF-8 only
        source = _transcoded(path, encoding)
        tail = source[-_SNIFF_BYTES:].decode("utf-8", errors="replace")
    if _cut_off(tail, delimiter, options.quote, width):
        # cut the UTF-8 bytes: a UTF-16 line break is two bytes, a cp1252 one is one
        data = source if isinstance(source, bytes) else whole_utf8()
        source = data[: max(data.rfind(b"\n"), data.rfind(b"\r")) + 1]
        del data
        truncated = True
        notes.append(
            "the file ends in the middle of a row (cut off?): that last row was not "
            "read and rows after it may be missing"
        )
    schema = {f"c{i}": pl.String for i in range(width)}

    def scan(data: Any) -> pl.LazyFrame:
        return pl.scan_csv(
            data,
            has_header=False,
            separator=delimiter,
            quote_char=options.quote,
            skip_rows=header_end,
            schema=schema,
            truncate_ragged_lines=True,
            encoding="utf8",
            raise_if_empty=False,
        )

    columns = {name: (f"c{found[name]}" if name in found else None) for name in mapping.columns}

    def build(frame: pl.LazyFrame, notes: list[str], truncated: bool, start: int = 0) -> Sheet:
        return _sheet(
            frame,
            columns,
            mapping,
            scope,
            header_end,
            start,
            path=path,
            sheet=None,
            location=location,
            headers=shown,
            missing=missing,
            header_texts=tuple(names),
            notes=notes,
            truncated=truncated,
            column_names={f"c{i}": name for i, name in enumerate(names)},
        )

    def repair(reason: str) -> Sheet:
        """The sheet over the rows before the line where parsing stops (cached)."""
        status = path.stat()
        key = ("csv-prefix", str(path), status.st_mtime_ns, status.st_size)
        if key not in cache:
            data = source if isinstance(source, bytes) else whole_utf8()
            cache[key] = readable_prefix(data, header_end, scan)
        prefix, line = cache[key]
        note = (
            f"parsing stopped at line {line} ({reason}): the rows before it were read, "
            f"the rows from line {line} on were not"
        )
        return build(scan(prefix), [note], True)

    def subset(indexes: Collection[int], rows: int) -> Sheet | None:
        """The sheet over the data rows ``indexes`` only (their ``__index`` kept), read
        by their place in the file; None when the file is not as it was indexed."""
        if not by_place or truncated:
            return None
        # the first data row too: polars takes the number of fields from it, as in a
        # full read (a short row first would be refused); it is filtered out later
        records = read_records(path, header_end, options.quote, {0, *indexes}, unit or BYTES)
        if records is None or records.count != rows:
            return None
        chosen = sorted(records.rows)
        data = records.header + b"".join(records.rows[index] for index in chosen)
        try:
            frame = scan(as_utf8(data)).collect()
        except Exception:  # polars reads them otherwise: the whole file, as usual
            return None
        if frame.height != len(chosen):
            return None
        return _numbered(build(frame.lazy(), notes, truncated), chosen)

    def parts() -> Iterator[tuple[Sheet, int, int]]:
        """The sheet a part of the file at a time (see :func:`record_parts`), each with
        the rows it parses before the part's own (the file's first data row) and the
        number of records in the part: polars must read as many rows from it."""
        for part in record_parts(path, header_end, options.quote):
            # the rows before the part's own are dropped once parsed, not by a slice of
            # the scan: polars reads a part with a broken quote otherwise when sliced
            sheet = build(scan(as_utf8(part.data)), notes, truncated, part.start - part.skip)
            skip, count = part.skip, part.count
            del part  # its bytes are held by the sheet until it is collected
            yield sheet, skip, count
            del sheet  # not held while the next part is read

    if source is not None:
        whole = scan(source)
    else:  # transcoded only if the whole file is read (not for the rows read by place)
        whole = pl.defer(lambda: scan(whole_utf8()).collect(), schema=schema)
    sheet = build(whole, notes, truncated)
    sheet.decodes = not utf8  # checked, known from the index, or transcoded whole
    sheet.repair = repair
    sheet.subset = subset
    if _in_parts(path, (utf8 or single_byte) and not truncated, delimiter, options.quote):
        sheet.parts = parts
    return sheet


def _single_byte(encoding: str) -> bool:
    """Whether ``encoding`` writes every character as one byte and a line break and
    the ASCII characters as themselves (cp1252, latin-1, the ISO 8859 family): a
    record boundary is then found in the bytes as in UTF-8, and any part of the file
    decodes on its own."""
    try:
        every_byte = bytes(range(256)).decode(encoding, errors="replace")
        ascii_kept = "\n\r\"',;\t".encode(encoding) == b"\n\r\"',;\t"
    except (LookupError, UnicodeError):
        return False
    return len(every_byte) == 256 and ascii_kept


def _file_bytes(path: Path) -> bytes:
    with open_regular(path) as handle:
        return handle.read()


def _tail_encoding(encoding: str, unit: str | None) -> str:
    """How the end of a file is decoded on its own: UTF-16 in its byte order (no
    byte-order mark there), other encodings as themselves."""
    if unit is None:
        return encoding
    return "utf-16-le" if unit.startswith("<") else "utf-16-be"


def _check_decodes(path: Path, encoding: str) -> None:
    """FileProblem naming the first byte of ``path`` that ``encoding`` does not decode
    with its place, read a megabyte at a time: the file is not held."""
    for _text in _decoded_chunks(path, encoding):
        pass


def _transcoded(path: Path, encoding: str) -> bytes:
    """The whole file in UTF-8 (FileProblem as :func:`_check_decodes`), transcoded a
    megabyte at a time: its bytes and its text are not held beside the UTF-8 (a 60 MB
    log in UTF-16, 120 MB, and its text took 250 MB more)."""
    pieces = [text.encode() for text in _decoded_chunks(path, encoding)]
    data = b"".join(pieces)
    del pieces
    give_back_freed()  # the pieces, kept in the C heap otherwise beside what follows
    return data


def _decoded_chunks(path: Path, encoding: str) -> Iterator[str]:
    """The text of ``path`` a megabyte of it at a time; a character a chunk cuts
    (UTF-16's code units and surrogate pairs) is decoded with the next. FileProblem
    naming the first byte that does not decode, with its place in the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open_regular(path) as handle:
        while True:
            chunk = handle.read(csv_rows.CHUNK)
            held = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                place = offset - held + exc.start
                raise FileProblem(f"not {encoding} text (byte {place})") from None
            yield text
            if not chunk:
                return
            offset += len(chunk)


def _in_parts(path: Path, readable: bool, delimiter: str, quote: str) -> bool:
    """Whether a CSV file's index is built a part at a time: a file in UTF-8 or a
    single-byte encoding (see :func:`_single_byte`), read as it is (not cut off),
    larger than a part, whose delimiter and quote are single ASCII characters other
    than a line break (a quote of several bytes is not followed)."""
    plain = all(len(c) == 1 and c.isascii() and c not in "\r\n" for c in (delimiter, quote))
    return readable and plain and path.stat().st_size > csv_rows.PART


def readable_prefix(
    data: bytes, header_end: int, scan: Callable[[bytes], pl.LazyFrame]
) -> tuple[bytes, int]:
    """The longest run of whole lines the CSV reader parses, and the line after it.

    A quote that is never closed (or a field that is not properly escaped) makes the
    reader fail on the whole file; the lines before it are still good. Found by
    bisection over line ends, each probe a full parse of that many lines.
    """
    ends = [match.end() for match in re.finditer(rb"\r\n|\n|\r", data)]

    def parses(lines: int) -> bool:
        try:
            scan(data[: ends[lines - 1]] if lines else b"").collect()
        except (pl.exceptions.PolarsError, OSError):
            return False
        return True

    good, bad = min(header_end, len(ends)), len(ends) + 1
    while bad - good > 1:
        middle = (good + bad) // 2
        if middle <= len(ends) and parses(middle):
            good = middle
        else:
            bad = middle
    return (data[: ends[good - 1]] if good else b""), good + 1


def _cut_off(tail: str, delimiter: str, quote: str, width: int) -> bool:
    """Whether the file's last row is incomplete: no final line break, and an open
    quote or fewer fields than the header."""
    if not tail or tail.endswith(("\n", "\r")):
        return False
    last = tail[max(tail.rfind("\n"), tail.rfind("\r")) + 1 :]
    if last.count(quote) % 2:
        return True
    try:
        fields = next(csv.reader([last], delimiter=delimiter, quotechar=quote), [])
    except csv.Error:
        return True
    return len(fields) < width


def _excel_sheets(
    path: Path,
    mapping: TabularMapping,
    base_dir: Path,
    scope: str | None,
    cache: dict[Any, Any],
) -> Iterator[Sheet | tuple[str, FileProblem]]:
    import fastexcel

    before = WorkbookFacts.stamp(path)
    content = functools.cache(partial(content_digest, path))  # on the first parse only
    reader: Any = None

    def opened() -> Any:
        nonlocal reader
        if reader is None:
            reader = fastexcel.read_excel(readable_by_name(path))
        return reader

    def handed_over() -> Any:
        """The open workbook, no longer held here (see :func:`_parse`)."""
        nonlocal reader
        taken, reader = opened(), None
        return taken

    try:
        names = list(opened().sheet_names)
    except Exception as exc:  # fastexcel raises its own error classes
        raise FileProblem(f"not a readable workbook ({_decode_error(exc)})") from None
    for ordinal, (selector, sheet) in enumerate(_selected_sheets(names, mapping)):
        location = location_of(path, str(sheet if sheet is not None else selector), base_dir)
        if sheet is None:
            yield location, FileProblem(f"has no sheet {selector!r} (it has {', '.join(names)})")
            continue
        stat = path.stat()
        key = (str(path), sheet, stat.st_mtime_ns, stat.st_size)
        item: Sheet | tuple[str, FileProblem]
        try:
            loaded = cache.get(key)
            early: dict[int, list[bool]] = {}
            if loaded is None:
                early = _early_number_cells(opened(), path, sheet, mapping, facts_of(cache))
                loaded, _copy = _parse(
                    handed_over, path, sheet, ordinal, mapping, cache, before, content
                )
                cache[key] = loaded

            def read_number_cells(
                column: int, sheet: str = sheet, early: dict[int, list[bool]] = early
            ) -> list[bool]:
                if column in early:
                    return early[column]
                return _number_cells(opened(), sheet, column)

            number_cells = _kept_number_cells(facts_of(cache), path, sheet, read_number_cells)
            item = _excel_sheet(path, sheet, loaded, mapping, location, scope, number_cells)
        except FileProblem as exc:
            item = location, exc
        except Exception as exc:
            item = location, FileProblem(f"the sheet cannot be read ({_decode_error(exc)})")
        # the open workbook holds its shared strings and the sheet calamine parsed
        # (about 70 MB for a 100,000-row sheet): let go of it while the sheet is
        # searched or indexed, and open it again for the next sheet
        reader = loaded = None
        give_back_freed()
        yield item


def _selected_sheets(names: list[str], mapping: TabularMapping) -> list[tuple[Any, str | None]]:
    """(selector, sheet name or None when the workbook has no such sheet), in order."""
    options = mapping.read
    wanted: list[str | int] = list(names) if options.sheets == "*" else list(options.sheets)
    by_text = {header_text(n): n for n in names}
    return [
        (
            selector,
            (names[selector] if selector < len(names) else None)
            if isinstance(selector, int)
            else by_text.get(header_text(selector)),
        )
        for selector in wanted
    ]


def excel_rows(
    path: Path,
    mapping: TabularMapping,
    *,
    base_dir: Path,
    scope: str | None,
    cache: dict[Any, Any],
    ordinal: int,
    rows: Collection[int],
    expected: int,
) -> Sheet | None:
    """Sheet ``ordinal`` of a workbook over the data rows ``rows`` only (their
    ``__index`` kept), for a search the index points to them.

    The rows come from the sheet's kept cells (:mod:`workbook_rows`) while the
    workbook's content is the one they were kept from; otherwise calamine parses the
    whole sheet (and its cells are kept for the next search). None when the sheet no
    longer has ``expected`` data rows, or cannot be read this way: the caller then
    reads it whole, as usual.
    """
    header_end = mapping.read.header_row - 1 + mapping.read.header_rows
    try:
        _check_workbook(path, check_regular(path), cache)
        whole = _kept_sheet(path, mapping, cache, ordinal)
    except Exception:  # FileProblem, OSError, fastexcel's own: read it whole, as usual
        return None
    chosen = sorted(set(rows))
    total = 0 if whole is None else whole.frame.height
    if whole is None or total - header_end != expected or (chosen and chosen[-1] >= expected):
        return None
    sheet = whole.sheet
    positions = [*range(header_end), *(header_end + row for row in chosen)]
    loaded = whole.frame[positions]
    flags_of = _kept_number_cells(
        facts_of(cache), path, sheet, partial(_number_cells_of, path, sheet)
    )

    def number_cells(column: int) -> list[bool]:
        flags = flags_of(column)
        if len(flags) != total:
            raise FileProblem("the sheet changed while it was read")
        return [flags[position] for position in positions]

    location = location_of(path, sheet, base_dir)
    try:
        part = _excel_sheet(path, sheet, loaded, mapping, location, scope, number_cells)
    except FileProblem:
        return None
    return _numbered(part, chosen)


def _kept_sheet(
    path: Path, mapping: TabularMapping, cache: dict[Any, Any], ordinal: int
) -> Copy | None:
    """Sheet ``ordinal``'s kept cells: as kept for this content, else parsed (and kept)."""
    kept = rows_of(cache)
    content = content_digest(path) if kept.directory is not None else None
    if content is not None:
        copy = kept.load(path, ordinal, content)
        if copy is not None:
            return copy
    import fastexcel

    before = WorkbookFacts.stamp(path)
    opened = [fastexcel.read_excel(readable_by_name(path))]
    selected = _selected_sheets(list(opened[0].sheet_names), mapping)
    if ordinal >= len(selected) or selected[ordinal][1] is None:
        return None
    sheet = str(selected[ordinal][1])
    loaded, copy = _parse(opened.pop, path, sheet, ordinal, mapping, cache, before, lambda: content)
    return copy or Copy(sheet, _reduced(loaded, mapping))


def _parse(
    hand_over: Callable[[], Any],
    path: Path,
    sheet: str,
    ordinal: int,
    mapping: TabularMapping,
    cache: dict[Any, Any],
    before: Stamp | None,
    content: Callable[[], str | None],
) -> tuple[pl.DataFrame, Copy | None]:
    """Sheet ``ordinal`` parsed whole (every cell as text), and its cells as kept for
    the index (see :mod:`workbook_rows`): None when nothing is kept (no index, or the
    workbook changed since ``before``, its stamp before it was opened).

    ``hand_over`` gives the open workbook and lets go of it: once the sheet is parsed,
    the workbook (its shared strings, some 35 MB for a 100,000-row inventory) is freed
    before the cells are turned into a frame, not held beside that copy.
    """
    parsed = hand_over().load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
    give_back_freed()  # the workbook's shared strings
    loaded = parsed.to_polars()
    del parsed
    give_back_freed()  # calamine's buffers, before polars works on the frame
    kept = rows_of(cache)
    digest = content() if kept.directory is not None else None
    if digest is None or before is None or WorkbookFacts.stamp(path) != before:
        return loaded, None
    try:
        copy = Copy(sheet, _reduced(loaded, mapping))
    except pl.exceptions.PolarsError:
        return loaded, None
    kept.save(path, ordinal, digest, copy)
    return loaded, copy


def _reduced(loaded: pl.DataFrame, mapping: TabularMapping) -> pl.DataFrame:
    """A parsed sheet with only the cells that may be kept (see :mod:`workbook_rows`)."""
    options = mapping.read
    rows = [list(row) for row in loaded.slice(options.header_row - 1, options.header_rows).rows()]
    names = header_names(rows, loaded.width, span=options.header_rows)
    found, _shown, _missing = _match_headers(names, mapping, bottom_names(rows, loaded.width))
    secret: dict[str, bool] = {}
    for name, position in found.items():
        column = loaded.columns[position]
        secret[column] = secret.get(column, True) and mapping.columns[name].secret
    return reduced(loaded, options.header_row - 1 + options.header_rows, secret)


def rows_of(cache: dict[Any, Any]) -> WorkbookRows:
    """The kept workbook sheets of this reader's cache: where the connector keeps them
    (beside its index), else nowhere."""
    kept = cache.get(ROWS)
    if callable(kept):  # the connector's factory, called when a workbook is first read
        kept = cache[ROWS] = kept()
    if not isinstance(kept, WorkbookRows):
        kept = cache[ROWS] = WorkbookRows(None, "")
    return kept


def _numbered(part: Sheet, rows: list[int]) -> Sheet:
    """A sheet read over some rows only, its ``__index`` set back to those rows' own."""
    dtype = part.raw.collect_schema()["__index"]
    part.raw = part.raw.with_columns(pl.lit(pl.Series("__index", rows, dtype=dtype)))
    return part


def _check_workbook(path: Path, status: os.stat_result, cache: dict[Any, Any]) -> None:
    """Refuse a decompression bomb (FileProblem): once per workbook version."""
    checked = ("archive-checked", str(path), status.st_mtime_ns, status.st_size)
    if checked not in cache:  # inflates every member once: not every search
        facts = facts_of(cache)
        if facts.get(path, "archive-checked") is not True:
            stamp = facts.stamp(path)
            check_archive(path)
            facts.put(path, "archive-checked", True, stamp)
        cache[checked] = True


def facts_of(cache: dict[Any, Any]) -> WorkbookFacts:
    """The workbook facts of this reader's cache: where the connector keeps them (beside
    its index), else nowhere (learnt again by every search)."""
    facts = cache.get(FACTS)
    if facts is None:
        facts = cache[FACTS] = WorkbookFacts(None)
    return facts


def _kept_number_cells(
    facts: WorkbookFacts, path: Path, sheet: str, read: Callable[[int], list[bool]]
) -> Callable[[int], list[bool]]:
    """:func:`_number_cells` learnt once per workbook version, not on every search."""

    def number_cells(column: int) -> list[bool]:
        stamp = facts.stamp(path)
        key = f"number-cells:{sheet}:{column}"
        known = facts.get(path, key)
        if isinstance(known, dict) and isinstance(known.get("rows"), int):
            with contextlib.suppress(TypeError, ValueError):
                return from_runs(known["runs"], known["rows"])
        flags = read(column)
        facts.put(path, key, {"rows": len(flags), "runs": as_runs(flags)}, stamp)
        return flags

    return number_cells


def _number_cells_of(path: Path, sheet: str, column: int) -> list[bool]:
    """:func:`_number_cells` of a workbook not opened yet."""
    import fastexcel

    return _number_cells(fastexcel.read_excel(readable_by_name(path)), sheet, column)


def _early_number_cells(
    reader: Any, path: Path, sheet: str, mapping: TabularMapping, facts: WorkbookFacts
) -> dict[int, list[bool]]:
    """Which cells of every column are number cells, when a sheet about to be parsed
    will need it for an ICCID column and it is not known yet; else nothing.

    Learning it takes a parse of the whole sheet of its own (calamine reads no column
    alone). Done before the sheet's text is parsed, not after, the two parses' memory
    does not add up: the first search of a 100,000-row workbook peaked 30 MB lower.
    """
    if not any(spec.identifier == "iccid" for spec in mapping.columns.values()):
        return {}
    if any(key.startswith(f"number-cells:{sheet}:") for key in facts.known(path)):
        return {}
    flags = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="boolean").to_polars()
    give_back_freed()
    return {
        column: [value is not None for value in flags.to_series(column).to_list()]
        for column in range(flags.width)
    }


def _number_cells(reader: Any, sheet: str, column: int) -> list[bool]:
    """Which cells of a workbook column are number cells (a text cell reads as null
    when coerced to a boolean, a number cell as true or false)."""
    flags = reader.load_sheet(
        sheet, header_row=None, skip_rows=0, use_columns=[column], dtypes={column: "boolean"}
    ).to_polars()
    give_back_freed()
    return [value is not None for value in flags.to_series(0).to_list()]


def _as_excel_shows(text: str | None) -> str | None:
    """A number cell's digits as Excel shows them (8.93104E+18): they were lost."""
    try:
        return f"{float(str(text)):.5E}"
    except ValueError:
        return text


def _excel_sheet(
    path: Path,
    sheet: str,
    loaded: pl.DataFrame,
    mapping: TabularMapping,
    location: str,
    scope: str | None,
    number_cells: Callable[[int], list[bool]] | None = None,
) -> Sheet:
    options = mapping.read
    header_end = options.header_row - 1 + options.header_rows
    if loaded.height < header_end:
        raise FileProblem(f"has fewer than {header_end} rows: no header at row {header_end}")
    rows = [list(row) for row in loaded.slice(options.header_row - 1, options.header_rows).rows()]
    names = header_names(rows, loaded.width, span=options.header_rows)
    found, shown, missing = _match_headers(names, mapping, bottom_names(rows, loaded.width))
    source_names = loaded.columns
    columns = {
        name: (source_names[found[name]] if name in found else None) for name in mapping.columns
    }
    if number_cells is not None:
        # an ICCID in a number cell has lost digits whatever it prints as; one in a
        # text cell is as typed, even when its digits happen to be a double's
        for name, spec in mapping.columns.items():
            column = columns.get(name)
            if spec.identifier != "iccid" or column is None:
                continue
            numbers = pl.Series(number_cells(source_names.index(column)), dtype=pl.Boolean)
            if numbers.len() == loaded.height and numbers.any():
                texts = loaded.get_column(column)
                as_shown = pl.Series(
                    [_as_excel_shows(t) if n else t for t, n in zip(texts, numbers, strict=True)],
                    dtype=pl.String,
                )
                loaded = loaded.with_columns(as_shown.alias(column))
    frame = loaded.lazy().slice(header_end)
    sheet_ = _sheet(
        frame,
        columns,
        mapping,
        scope,
        header_end,
        path=path,
        sheet=sheet,
        location=location,
        headers=shown,
        missing=missing,
        header_texts=tuple(names),
    )
    sheet_.typed = number_cells is not None
    return sheet_


def _parquet_sheet(path: Path, mapping: TabularMapping, location: str, scope: str | None) -> Sheet:
    try:
        frame = pl.scan_parquet(readable_by_name(path))
        names = list(frame.collect_schema().names())
    except Exception as exc:
        raise FileProblem(f"not a readable Parquet file ({_decode_error(exc)})") from None
    found, shown, missing = _match_headers(names, mapping)
    columns = {name: (names[found[name]] if name in found else None) for name in mapping.columns}
    return _sheet(
        frame,
        columns,
        mapping,
        scope,
        0,
        path=path,
        sheet=None,
        location=location,
        headers=shown,
        missing=missing,
        header_texts=tuple(names),
    )


def read_sheets(
    path: Path,
    mapping: TabularMapping,
    *,
    base_dir: Path,
    scope: str | None,
    cache: dict[Any, Any],
    decodes: Callable[[Path], bool] | None = None,
    some_rows: bool = False,
) -> Iterator[Sheet | tuple[str, FileProblem]]:
    """The sheets of one file; a problem is yielded as (location, FileProblem).

    ``decodes`` tells whether a CSV file in a one-byte encoding or UTF-16 is known to
    decode whole (its index checked every byte, and the file is unchanged since): its
    bytes are then not checked again (a 60 MB cp1252 log: 0.1 s of every warm
    search). Without it, or when it says no, they are. ``some_rows``: the caller
    reads some rows only if it can (a search through the index), so a UTF-16 file is
    not transcoded before it is read whole.
    """
    location = location_of(path, None, base_dir)
    try:
        status = check_regular(path)
        kind = file_format(path, mapping)
        if kind == "excel":
            _check_workbook(path, status, cache)
            yield from _excel_sheets(path, mapping, base_dir, scope, cache)
        elif kind == "parquet":
            yield _parquet_sheet(path, mapping, location, scope)
        else:
            yield _csv_sheet(path, mapping, location, scope, cache, decodes, some_rows)
    except FileProblem as exc:
        yield location, exc
    except OSError as exc:
        yield location, FileProblem(f"cannot be opened ({exc.strerror or exc})")
