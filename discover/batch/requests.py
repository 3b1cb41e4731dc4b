"""Reading a batch's requests file: CSV or JSON Lines, one request per row.

A malformed row must not stop the batch: it becomes an :class:`InvalidRow` that
names its line and what is wrong, and the other rows go on. Only a file that cannot
be read at all (missing, not UTF-8, an unknown CSV column in the header) stops the
batch with a :class:`~discover.errors.ConfigError`.

CSV: a header row, then one row per request. Columns (all optional except at least
one identifier per row, in any order): ``request_id``, ``kind``, ``language``,
``controller``, ``received``, ``client``, ``subject_name``, ``note`` and one column per
identifier type (``email``, ``phone``, ``name``, ``imei``, ``iccid``, ``imsi``, ``mac``,
``ip``, ``postcode``, ``username``, ``account``, ``extension``). Several values in one
cell are separated by ``;``. JSON Lines: one request document per line, as
``request.schema.json`` describes (``version`` may be left out); blank lines are
skipped.

A row without a request id gets a stable one derived from its content, so that
rerunning the same file writes to the same places.

A malformed identifier in a row is rejected the way a single search rejects it: the
row is searched with its other identifiers, and its case, report line and package
name the rejected one (the row is incomplete). A row with no usable identifier is
invalid. ``strict`` makes a malformed identifier invalidate its row, as before.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from discover.config import parse_json
from discover.errors import ConfigError, InputError, InvalidIdentifier
from discover.identifiers import IDENTIFIER_TYPES, Identifier
from discover.request import (
    REQUEST_VERSION,
    Rejected,
    Request,
    request_from_document,
    visible,
)

#: CSV columns besides the identifier types.
REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id",
    "kind",
    "language",
    "controller",
    "received",
    "client",
    "subject_name",
    "note",
)
CSV_COLUMNS: tuple[str, ...] = REQUEST_COLUMNS + IDENTIFIER_TYPES
#: Separates several values of one identifier type in a CSV cell.
VALUE_SEPARATOR = ";"


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One valid request of a batch, with where it came from."""

    line: int
    request: Request
    #: what decides whether an earlier run's output is still this request's output
    fingerprint: str

    @property
    def request_id(self) -> str:
        return self.request.request_id

    def to_document(self) -> dict[str, Any]:
        """Plain JSON for shipping the item to a worker process or machine."""
        return {
            "line": self.line,
            "fingerprint": self.fingerprint,
            "request": self.request.to_document(),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> BatchItem:
        request = request_from_document(document["request"], file=f"line {document['line']}")
        return cls(document["line"], request, document["fingerprint"])


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row that could not be turned into a request; the batch reports it."""

    line: int
    request_id: str | None
    error: str


@dataclass(frozen=True, slots=True)
class BatchInput:
    """Everything a requests file held."""

    path: Path
    items: list[BatchItem]
    invalid: list[InvalidRow]

    @property
    def rows(self) -> int:
        return len(self.items) + len(self.invalid)


@dataclass(frozen=True, slots=True)
class RequestDefaults:
    """Values for rows that leave them out (from the command line)."""

    kind: str = "access"
    language: str = "nl"
    #: the provider's own data, as ``discover export``: client records need an instruction
    controller: str = "provider"
    #: a malformed identifier invalidates its row (instead of being rejected)
    strict: bool = False


def fingerprint(document: dict[str, Any], formats: tuple[str, ...]) -> str:
    """A digest of what a row asked for and the formats asked for, to recognise redo work."""
    payload = json.dumps(
        {"request": document, "formats": sorted(formats)}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def derived_request_id(document: dict[str, Any]) -> str:
    """A stable id for a row without one: the same row always gets the same id."""
    payload = json.dumps(
        {k: v for k, v in document.items() if k != "received"}, sort_keys=True, ensure_ascii=False
    )
    return "REQ-B-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def _read_text(path: Path) -> str:
    label = path.name
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(label, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(label, "", "expected a file, found a directory") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(label, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(label, "", f"cannot be read: {exc.strerror}") from None


def _csv_rows(
    path: Path, text: str, strict: bool = False
) -> Iterator[tuple[int, dict[str, Any] | InvalidRow]]:
    """(line, request document) per CSV row; a bad row yields an InvalidRow instead."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(path.name, "line 1", "the file is empty; expected a header row") from None
    except csv.Error as exc:
        raise ConfigError(path.name, "line 1", f"not CSV: {exc}") from None
    columns = [column.strip().lower() for column in header]
    unknown = [column for column in columns if column not in CSV_COLUMNS]
    if unknown:
        raise ConfigError(
            path.name,
            "line 1 (header)",
            f"unknown column {unknown[0]!r}; expected some of {', '.join(CSV_COLUMNS)}",
        )
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise ConfigError(path.name, "line 1 (header)", f"column {duplicated[0]!r} appears twice")
    if not any(column in IDENTIFIER_TYPES for column in columns):
        raise ConfigError(
            path.name,
            "line 1 (header)",
            f"no identifier column; expected one or more of {', '.join(IDENTIFIER_TYPES)}",
        )
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield start, InvalidRow(start, None, f"not valid CSV: {exc}")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield (
                start,
                InvalidRow(
                    start,
                    None,
                    f"expected {len(columns)} cells as in the header, found {len(cells)}",
                ),
            )
            continue
        yield start, _csv_document(start, dict(zip(columns, cells, strict=True)), strict)


def _csv_document(line: int, row: dict[str, str], strict: bool) -> dict[str, Any] | InvalidRow:
    document: dict[str, Any] = {}
    for column in REQUEST_COLUMNS:
        value = row.get(column, "").strip()
        if value:
            document[column] = value
    identifiers = []
    rejected = []
    for kind in IDENTIFIER_TYPES:
        for raw in row.get(kind, "").split(VALUE_SEPARATOR):
            value = raw.strip()
            if not value:
                continue
            try:
                Identifier.parse(kind, value)
            except InvalidIdentifier as exc:
                if strict:
                    return InvalidRow(line, document.get("request_id"), f"column {kind}: {exc}")
                rejected.append(Rejected(kind, visible(value), str(exc), f"column {kind}"))
                continue
            identifiers.append({"type": kind, "value": value})
    if not identifiers:
        reason = "; ".join(r.describe() for r in rejected)
        return InvalidRow(
            line,
            document.get("request_id"),
            f"no usable identifier in this row ({reason})"
            if rejected
            else "no identifier in this row",
        )
    document["identifiers"] = identifiers
    if rejected:
        document["rejected_identifiers"] = [r.to_document() for r in rejected]
    return document


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | InvalidRow]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            document = parse_json(raw, file=path.name, first_line=number)
        except ConfigError as exc:
            column = exc.place.partition(" column ")[2]
            yield (
                number,
                InvalidRow(number, None, exc.message + (f" (column {column})" * bool(column))),
            )
            continue
        if not isinstance(document, dict):
            yield number, InvalidRow(number, None, "expected a JSON object (one request)")
            continue
        yield number, document


def _format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def read_requests(
    path: Path,
    *,
    defaults: RequestDefaults | None = None,
    formats: tuple[str, ...] = ("json",),
) -> BatchInput:
    """Read every row of a requests file; bad rows are collected, not raised."""
    defaults = defaults or RequestDefaults()
    text = _read_text(path)
    rows = (
        _csv_rows(path, text, defaults.strict)
        if _format(path, text) == "csv"
        else _jsonl_rows(path, text)
    )
    items: list[BatchItem] = []
    invalid: list[InvalidRow] = []
    seen: dict[str, int] = {}
    today = datetime.now(UTC).date().isoformat()
    for line, parsed in rows:
        if isinstance(parsed, InvalidRow):
            invalid.append(parsed)
            continue
        document = {"version": REQUEST_VERSION, **parsed}
        for key, value in (
            ("kind", defaults.kind),
            ("language", defaults.language),
            ("controller", defaults.controller),
        ):
            document.setdefault(key, value)
        given = dict(document)
        document.setdefault("request_id", derived_request_id(given))
        document.setdefault("received", today)
        request_id = document["request_id"] if isinstance(document["request_id"], str) else None
        try:
            request = request_from_document(
                document, file=f"{path.name} line {line}", strict=defaults.strict
            )
        except ConfigError as exc:
            where = exc.place if exc.place and exc.place != "(top)" else ""
            message = f"{where}: {exc.message}" if where else exc.message
            invalid.append(InvalidRow(line, request_id, message))
            continue
        except InputError as exc:
            invalid.append(InvalidRow(line, request_id, str(exc)))
            continue
        if request.request_id in seen:
            invalid.append(
                InvalidRow(
                    line,
                    request.request_id,
                    f"request id {request.request_id!r} is used already on line "
                    f"{seen[request.request_id]}",
                )
            )
            continue
        seen[request.request_id] = line
        items.append(BatchItem(line, request, fingerprint(given, formats)))
    return BatchInput(path=path, items=items, invalid=invalid)
