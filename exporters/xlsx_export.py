"""The XLSX format: a workbook a person can read, written in constant memory.

Layout: a cover sheet with the request and the Art. 15 information (who is
responsible for which part, each category's purposes, recipients, transfers outside
the EEA, retention and legal basis, the rights, the complaint authority, what is
withheld or left out), a *fields* sheet mapping every column to its register
category, then one sheet per record type, named by its category's title, with one
row per record and the mappings' labels as column headers. Portability packages add
a sheet of structured package metadata after the cover.

Every data sheet has a frozen, bold header row, an autofilter over its rows and
column widths fitted to the content (within bounds). Dates are real Excel dates;
identifiers (phone numbers, ICCIDs, IMEIs, IMSIs, account numbers …) and all text
are written as text, so Excel never turns +31612345678 into a number or an ICCID
into 8.93E+18; a number is written as a number only when the source typed it so and
it fits Excel's 15 significant digits. A withheld secret shows as "[withheld]", a
redacted field of another person as "[left out]" (access packages; the cover says
why). xlsxwriter's ``constant_memory`` mode writes each row out as it goes, with
its temporary files inside the package's private staging directory.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from discover.policy import PackageKind, Selection
from exporters.content import label, labels, texts
from exporters.package import PackageWriter
from exporters.tables import (
    MATCH,
    META_COLUMNS,
    RECORD_KEY,
    RECORDED_AT,
    RecordType,
    display_names,
    headers,
)

MIN_WIDTH = 6
MAX_WIDTH = 60
DATE_WIDTH = 11
DATETIME_WIDTH = 19
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
_MAX_EXACT_DIGITS = 15
LABEL_WIDTH = 30
TEXT_WIDTH = 95
LINE_HEIGHT = 15


def _wrapped_lines(text: str, width: int) -> int:
    """How many lines wrapped text takes in a column (an estimate on the safe side)."""
    usable = max(width - 4, 8)
    total = 0
    for paragraph in text.split("\n"):
        words, current = paragraph.split(" "), 0
        lines = 1
        for word in words:
            needed = len(word) + (1 if current else 0)
            if current + needed > usable:
                lines += 1
                current = len(word)
            else:
                current += needed
        total += lines
    return total


def sheet_names(
    record_types: Sequence[RecordType], reserved: Sequence[str], titles: dict[str, str]
) -> list[str]:
    """Excel sheet names by category title: at most 31 characters, no []:*?/\\, unique
    ignoring case, never one of the package's own sheets (or Excel's "History")."""
    return display_names(record_types, titles, reserved=[*reserved, "history"])


def _parse_datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.heading = book.add_format({"bold": True, "font_size": 12, "top": 1})
        self.label = book.add_format({"bold": True, "valign": "top", "text_wrap": True})
        self.text = book.add_format({"text_wrap": True, "valign": "top"})
        self.header = book.add_format(
            {"bold": True, "bottom": 1, "bg_color": "#DDEBF7", "text_wrap": False}
        )
        self.date = book.add_format({"num_format": "yyyy-mm-dd", "align": "left"})
        self.datetime = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss", "align": "left"})
        self.date_top = book.add_format(
            {"num_format": "yyyy-mm-dd", "align": "left", "valign": "top"}
        )
        self.marker = book.add_format({"italic": True, "font_color": "#7F7F7F"})
        self.notice = book.add_format({"bold": True, "font_color": "#C00000", "text_wrap": True})


class _Cover:
    """Writes label/value rows down a two-column cover sheet, in order."""

    def __init__(self, sheet: Worksheet, formats: _Formats) -> None:
        self.sheet = sheet
        self.f = formats
        self.row = 0
        sheet.set_column(0, 0, LABEL_WIDTH)
        sheet.set_column(1, 1, TEXT_WIDTH)
        sheet.hide_gridlines(2)
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)
        sheet.set_portrait()

    def title(self, text: str) -> None:
        self.sheet.write_string(self.row, 0, text, self.f.title)
        self.row += 2

    def heading(self, text: str) -> None:
        if self.row:
            self.row += 1
        self.sheet.write_string(self.row, 0, text, self.f.heading)
        self.sheet.write_blank(self.row, 1, None, self.f.heading)
        self.row += 1

    def _fit(self, key: str, value: Any) -> None:
        """Set the row's height for wrapped text (constant memory: before writing it)."""
        lines = max(_wrapped_lines(key, LABEL_WIDTH), _wrapped_lines(str(value), TEXT_WIDTH))
        if lines > 1:
            self.sheet.set_row(self.row, LINE_HEIGHT * lines)

    def line(self, key: str, value: Any, fmt: Any = None) -> None:
        self._fit(key, value)
        if key:
            self.sheet.write_string(self.row, 0, key, self.f.label)
        if isinstance(value, date):
            self.sheet.write_datetime(self.row, 1, value, self.f.date_top)
        else:
            self.sheet.write_string(self.row, 1, str(value), fmt or self.f.text)
        self.row += 1

    def lines(self, key: str, values: Sequence[str], empty: str) -> None:
        if not values:
            self.line(key, empty)
        for index, value in enumerate(values):
            self.line(key if index == 0 else "", value)


def _access_cover(
    book: xlsxwriter.Workbook,
    formats: _Formats,
    metadata: dict[str, Any],
    selection: Selection,
    sheets_by_location: dict[tuple[str, str], str],
    language: str,
) -> None:
    cover = _Cover(book.add_worksheet(label("cover_sheet", language)), formats)
    request = metadata["request"]
    info = metadata["information"]
    yes, no, none = (
        label("answer_yes", language),
        label("answer_no", language),
        label("none", language),
    )
    cover.title(metadata["title"])
    if "notice" in metadata:
        cover.line(label("notice", language), metadata["notice"], formats.notice)
    for notice in metadata.get("statement_notices", []):
        cover.line(notice["title"], notice["text"], formats.notice)
    cover.line("", info["intro"])
    cover.heading(label("request", language))
    cover.line(label("request_id", language), request["request_id"])
    if request.get("subject_name"):
        cover.line(label("subject_name", language), request["subject_name"])
    cover.line(label("received", language), date.fromisoformat(request["received"]))
    cover.line(label("deadline", language), date.fromisoformat(request["deadline"]))
    if "deadline_extended" in request:
        extended = request["deadline_extended"]
        cover.line(label("deadline_extended", language), date.fromisoformat(extended["deadline"]))
        cover.line("", extended["text"])
    cover.lines(
        label("identifiers", language),
        [f"{i['type_label']}: {i['value']}" for i in request["identifiers"]],
        none,
    )
    cover.lines(label("sources_searched", language), request["sources_searched"], none)
    cover.lines(
        label("sources_failed", language),
        [f"{f['source']}: {f['error']}" for f in request["sources_failed"]],
        none,
    )
    if request.get("identifiers_rejected"):
        cover.lines(
            label("identifiers_rejected", language),
            [f"{r['type']}: {r['value']} ({r['reason']})" for r in request["identifiers_rejected"]],
            none,
        )
    cover.line(label("complete", language), yes if request["complete"] else no)
    cover.line(label("generated_at", language), metadata["generated_at"])

    cover.heading(label("controllers", language))
    controller = info["controller"]
    if "scope" in controller:
        cover.line(label("scope", language), controller["scope"], formats.notice)
    for part in controller["parts"]:
        cover.line(part["organisation"], part["statement"])
    provider = controller["provider"]
    cover.line(
        provider["name"],
        f"{provider['address']} · {provider['privacy_email']}"
        + (f" · {provider['phone']}" if provider.get("phone") else ""),
    )

    cover.heading(label("categories", language))
    sources_of: dict[str, set[str]] = {}
    sheets_of: dict[str, set[str]] = {}
    for category, source, location in zip(
        selection.hits.column("category").to_pylist(),
        selection.hits.column("source").to_pylist(),
        selection.hits.column("location").to_pylist(),
        strict=True,
    ):
        sources_of.setdefault(category, set()).add(source)
        sheets_of.setdefault(category, set()).add(sheets_by_location[(source, location)])
    for category in metadata["categories"]:
        cover.line(category["title"], category["description"], formats.label)
        if "statement_notice" in category:
            cover.line(label("notice", language), category["statement_notice"], formats.notice)
        cover.lines(label("purposes", language), category["purposes"], none)
        cover.lines(label("recipients", language), category["recipients"], none)
        cover.line(label("transfers", language), category["transfers"]["text"])
        cover.line(label("retention", language), category["retention"])
        cover.line(label("controller", language), category["controller_name"])
        cover.line(label("legal_basis", language), category["legal_basis_label"])
        if "legitimate_interest" in category:
            cover.line(label("legitimate_interest", language), category["legitimate_interest"])
        cover.line(
            label("sources", language), ", ".join(sorted(sources_of.get(category["category"], ())))
        )
        cover.line(
            label("sheets", language), ", ".join(sorted(sheets_of.get(category["category"], ())))
        )
        cover.row += 1

    cover.heading(label("record_types", language))
    for (source, location), sheet in sheets_by_location.items():
        cover.line(
            sheet,
            f"{label('source', language)}: {source} · {label('location', language)}: {location}",
        )

    cover.heading(label("source_of_data", language))
    cover.line("", info["source_of_data"])
    cover.line(label("automated_decisions", language), info["automated_decisions"])
    cover.heading(label("rights", language))
    for right in info["rights"]:
        cover.line("", right["text"])
    cover.line(label("how_to_exercise", language), info["how_to_exercise"])
    cover.line(label("complaint", language), info["complaint"]["text"])

    blocks = (
        ("withheld", metadata["withheld"]),
        ("redacted", metadata["redacted"]),
        ("masked", metadata["masked"]),
    )
    for key, block in blocks:
        if not block["fields"]:
            continue
        cover.heading(label(key, language))
        cover.line("", block["explanation"])
        if key == "withheld":
            kinds = {item.get("secret", "system") for item in block["fields"]}
            for kind_ in ("subject", "system"):
                if kind_ in kinds:
                    cover.line("", block[kind_])
        counts: dict[tuple[str, str], int] = {}
        for item in block["fields"]:
            where = (sheets_by_location[(item["source"], item["location"])], item["label"])
            counts[where] = counts.get(where, 0) + 1
        for (sheet, field), count in sorted(counts.items()):
            cover.line(f"{sheet}: {field}", f"{count} ×")
    missing = metadata.get("files_not_included", {"items": []})
    if missing["items"]:
        cover.heading(label("files_not_included", language))
        cover.line("", missing["explanation"])
        for item in missing["items"]:
            where = sheets_by_location.get((item["source"], item["location"]), item["source"])
            cover.line(f"{where}: {item['label'] or item['record_key']}", item["description"])
    if metadata["left_out"]["reasons"]:
        cover.heading(label("left_out", language))
        cover.line("", metadata["left_out"]["explanation"])
        for reason in metadata["left_out"]["reasons"]:
            cover.line(f"{reason['fields']} ×", reason["text"])


def _portability_sheet(
    book: xlsxwriter.Workbook, formats: _Formats, metadata: dict[str, Any], language: str
) -> None:
    """Structured metadata without prose: keys and values only."""
    sheet = book.add_worksheet(label("package_sheet", language))
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 40)
    names = labels()["labels"]["portability_sheet"]
    reasons = labels()["labels"]["withheld_reasons"]
    parts = metadata["controllers"]["parts"]
    rows: list[tuple[str, str]] = [
        (names["format"][language], metadata["format"]),
        (names["format_version"][language], str(metadata["format_version"])),
        (names["request_id"][language], metadata["request_id"]),
        (names["generated_at"][language], metadata["generated_at"]),
        (names["controller_scope"][language], metadata["controller_scope"]),
    ]
    rows += [(names["controller"][language], p["organisation"]) for p in parts if p["included"]]
    why = texts()["left_out_reasons"]
    rows += [
        (names["left_out"][language], f"{v} × {why[k][language] if k in why else k}")
        for k, v in metadata["left_out"].items()
    ]
    rows += [
        (
            reasons[w["reason"] if w["reason"] != "secret" else w.get("secret", "system")][
                language
            ],
            f"{w['dataset']} {w['record_key']} {w['field']}",
        )
        for w in metadata["withheld"]
    ]
    for index, (key, value) in enumerate(rows):
        sheet.write_string(index, 0, key, formats.label)
        sheet.write_string(index, 1, value)


def _fields_sheet(
    book: xlsxwriter.Workbook,
    formats: _Formats,
    record_types: Sequence[RecordType],
    names: Sequence[str],
    descriptions: dict[str, str],
    language: str,
    titles: dict[str, str],
) -> None:
    sheet = book.add_worksheet(label("fields_sheet", language))
    header = [label(k, language) for k in ("sheet", "column", "category", "description")]
    header += [label("field", language), label("value_type", language)]
    for col, text in enumerate(header):
        sheet.write_string(0, col, text, formats.header)
    row = 1
    widths = [len(h) for h in header]
    types = labels()["labels"]["value_types"]
    column_labels = labels()["labels"]["columns"]
    for record_type, name in zip(record_types, names, strict=True):
        shown = headers(record_type, language, column_labels)
        for column, heading in zip(record_type.columns, shown, strict=True):
            if column.field is None:
                continue
            values = [
                name,
                heading,
                titles.get(column.category or "", column.category or ""),
                descriptions.get(column.category or "", ""),
                column.name,
                types.get(column.value_type, {}).get(language, column.value_type),
            ]
            for col, value in enumerate(values):
                sheet.write_string(row, col, value)
                widths[col] = max(widths[col], len(value))
            row += 1
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width + 2, MIN_WIDTH), MAX_WIDTH))
    _print_setup(sheet)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(row - 1, 1), len(header) - 1)


Writer = Callable[[int, int, Any], Any]


def _print_setup(sheet: Worksheet) -> None:
    """Landscape A4, one page wide, the header row repeated on every page."""
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)


def _column_writers(
    sheet: Worksheet, record_type: RecordType, formats: _Formats, kind: PackageKind, language: str
) -> tuple[list[Writer], list[int]]:
    """Per column: how to write a non-null cell, and the column's width."""
    frame = record_type.frame
    write_string = sheet.write_string
    write_number = sheet.write_number
    write_datetime = sheet.write_datetime
    writers: list[Writer] = []
    widths: list[int] = []
    match_labels = {k: v[language] for k, v in labels()["labels"]["match"].items()}

    def header_width(name: str) -> int:
        return len(name)

    for column in record_type.columns:
        series = frame.get_column(column.name)
        text_width = 0
        if series.dtype == pl.String and series.null_count() < len(series):
            text_width = int(series.str.len_chars().max() or 0)  # type: ignore[arg-type]
        width = max(header_width(column.name), text_width)
        if column.name == RECORDED_AT:

            def write_ts(r: int, c: int, v: datetime) -> Any:
                return write_datetime(
                    r, c, v.astimezone(UTC).replace(tzinfo=None), formats.datetime
                )

            writers.append(write_ts)
            widths.append(DATETIME_WIDTH)
            continue
        if column.name == MATCH and kind == "access":

            def write_match(r: int, c: int, v: str) -> Any:
                return write_string(r, c, match_labels.get(v, v))

            writers.append(write_match)
            widths.append(max(width, max(len(x) for x in match_labels.values())))
            continue
        non_null = series.drop_nulls()
        kind_of = column.value_type
        if column.field is not None and column.identifier is None and len(non_null):
            if kind_of == "text" and bool(non_null.str.contains(_ISO_DATETIME).all()):
                kind_of = "datetime"
            elif kind_of == "text" and bool(non_null.str.contains(_ISO_DATE).all()):
                kind_of = "date"
        if (
            column.field is not None
            and kind_of in ("date", "datetime")
            and column.identifier is None
        ):
            parse = (
                _parse_date
                if kind_of == "date" and all(len(x) == 10 for x in non_null.head(50))
                else _parse_datetime
            )
            fmt = formats.date if parse is _parse_date else formats.datetime

            def write_when(r: int, c: int, v: str, parse: Any = parse, fmt: Any = fmt) -> Any:
                parsed = parse(v)
                if parsed is None:
                    return write_string(r, c, v)
                return write_datetime(r, c, parsed, fmt)

            writers.append(write_when)
            widths.append(DATE_WIDTH if parse is _parse_date else DATETIME_WIDTH)
            continue
        if column.field is not None and column.identifier is None and kind_of == "integer":

            def write_int(r: int, c: int, v: str) -> Any:
                digits = v.lstrip("-")
                if (
                    digits.isdigit()
                    and len(digits) <= _MAX_EXACT_DIGITS
                    and (digits == "0" or not digits.startswith("0"))
                ):
                    return write_number(r, c, int(v))
                return write_string(r, c, v)

            writers.append(write_int)
        elif column.field is not None and column.identifier is None and kind_of == "decimal":

            def write_decimal(r: int, c: int, v: str) -> Any:
                try:
                    number = float(v)
                except ValueError:
                    return write_string(r, c, v)
                digits = sum(ch.isdigit() for ch in v)
                if math.isfinite(number) and digits <= _MAX_EXACT_DIGITS:
                    return write_number(r, c, number)
                return write_string(r, c, v)

            writers.append(write_decimal)
        elif column.field is not None and column.identifier is None and kind_of == "boolean":
            writers.append(lambda r, c, v: sheet.write_boolean(r, c, v == "true"))
        else:
            writers.append(write_string)
        widths.append(width)
    return writers, widths


def _data_sheet(
    book: xlsxwriter.Workbook,
    formats: _Formats,
    record_type: RecordType,
    name: str,
    markers: dict[tuple[str, str], str],
    kind: PackageKind,
    language: str,
) -> None:
    sheet = book.add_worksheet(name)
    shown = headers(record_type, language, labels()["labels"]["columns"])
    writers, widths = _column_writers(sheet, record_type, formats, kind, language)
    for col, text in enumerate(shown):
        sheet.write_string(0, col, text, formats.header)
        width = max(widths[col], len(text)) + 2
        sheet.set_column(col, col, min(max(width, MIN_WIDTH), MAX_WIDTH))
    marker_format = formats.marker
    write_string = sheet.write_string
    names = [c.name for c in record_type.columns]
    row_number = 0
    for row_number, row in enumerate(record_type.frame.iter_rows(), start=1):
        for col, value in enumerate(row):
            if value is None:
                if markers:
                    marker = markers.get((row[0], names[col]))
                    if marker is not None:
                        write_string(row_number, col, marker, marker_format)
                continue
            writers[col](row_number, col, value)
    _print_setup(sheet)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(row_number, 1), len(shown) - 1)


def _markers(
    selection: Selection, record_type: RecordType, language: str, kind: PackageKind
) -> dict[tuple[str, str], str]:
    if kind != "access":
        return {}
    withheld = label("withheld_cell", language)
    redacted = label("redacted_cell", language)
    result: dict[tuple[str, str], str] = {}
    for items, text in ((selection.withheld, withheld), (selection.redacted, redacted)):
        for item in items:
            if item["source"] == record_type.source and item["location"] == record_type.location:
                result[(item["record_key"], item["field"])] = text
    return result


def write_xlsx_package(
    writer: PackageWriter,
    *,
    kind: PackageKind,
    metadata: dict[str, Any],
    selection: Selection,
    record_types: Sequence[RecordType],
    language: str,
    titles: dict[str, str],
    cover: dict[str, Any] | None = None,
) -> str:
    """Write ``<kind>.xlsx``; ``metadata`` is the package document without its data."""
    name = f"{kind}.xlsx"
    scratch = writer.scratch_dir()
    book = xlsxwriter.Workbook(
        str(writer.path(name)),
        {
            "constant_memory": True,
            "tmpdir": str(scratch),
            "remove_timezone": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    book.set_properties({"title": metadata.get("title", metadata["format"]), "author": ""})
    formats = _Formats(book)
    reserved = [label("cover_sheet", language), label("fields_sheet", language)]
    reserved.append(label("package_sheet", language))
    names = sheet_names(record_types, reserved, titles)
    by_location = {(r.source, r.location): n for r, n in zip(record_types, names, strict=True)}
    if kind == "access":
        _access_cover(book, formats, cover or metadata, selection, by_location, language)
    else:
        if cover is not None:
            _access_cover(book, formats, cover, selection, by_location, language)
        _portability_sheet(book, formats, metadata, language)
    descriptions = {c["category"]: c["description"] for c in metadata["categories"]}
    _fields_sheet(book, formats, record_types, names, descriptions, language, titles)
    for record_type, sheet_name in zip(record_types, names, strict=True):
        markers = _markers(selection, record_type, language, kind)
        _data_sheet(book, formats, record_type, sheet_name, markers, kind, language)
    book.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return name


__all__ = ["META_COLUMNS", "RECORD_KEY", "sheet_names", "write_xlsx_package"]
