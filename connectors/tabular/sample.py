"""Sampling spreadsheets and flat files: every sheet's headers and their first N values.

The header row is the mapping's (``read.header_row``), else the first. Every sheet of
a workbook is sampled, also those the mapping does not read: a sheet of personal data
the mapping leaves out is what discovery must report.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from connectors.sampling import SampledField, finish, text_of
from connectors.tabular.mapping import TabularMapping, header_text
from connectors.tabular.read import (
    _CSV_SUFFIXES,
    _EXCEL_SUFFIXES,
    _PARQUET_SUFFIXES,
    _sniff,
    bottom_names,
    header_names,
    location_of,
    resolve_files,
)
from discover.errors import SourceError
from discover.sources import SourceConfig


def _mapped_headers(model: TabularMapping | None) -> dict[str, Any]:
    """header_text of every accepted header -> the field's spec."""
    accepted: dict[str, Any] = {}
    if model is not None:
        for name, spec in model.columns.items():
            header = model.headers.get(name)
            for text in (name, *(header.names if header else ())):
                accepted.setdefault(header_text(text), spec)
    return accepted


def _fields(
    location: str, rows: list[list[Any]], header_row: int, header_rows: int, mapped: dict[str, Any]
) -> list[SampledField]:
    top = header_row - 1
    head = rows[top : top + header_rows]
    body = rows[top + header_rows :]
    width = max((len(r) for r in rows), default=0)
    names = header_names(head, width, span=header_rows) if head else []
    bottom = bottom_names(head, width) if head else []
    found = []
    for index, name in enumerate(names):
        if not name:
            continue
        spec = mapped.get(header_text(name)) or mapped.get(header_text(bottom[index]))
        secret = bool(spec is not None and spec.secret)
        values = [] if secret else [t for r in body if index < len(r) and (t := text_of(r[index]))]
        found.append(
            SampledField(
                location,
                name,
                values,
                mapped=spec.name if spec is not None else None,
                declared=spec.identifier if spec is not None else None,
                secret=secret,
            )
        )
    return finish(found)


def _csv_rows(path: Path, encoding: str, limit: int) -> list[list[Any]]:
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(256 * 1024)
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=_sniff(text, '"'))
    return [row for _, row in zip(range(limit), reader, strict=False)]


def _excel_sheets(path: Path, limit: int) -> list[tuple[str, list[list[Any]]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return [
            (sheet.title, [list(r) for r in sheet.iter_rows(max_row=limit, values_only=True)])
            for sheet in book.worksheets
        ]
    finally:
        book.close()


def _parquet_rows(path: Path, limit: int) -> list[list[Any]]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    batch = next(parquet.iter_batches(batch_size=limit), None)
    names = parquet.schema_arrow.names
    rows = batch.to_pylist() if batch is not None else []
    return [names, *([row[n] for n in names] for row in rows)]


def sample(source: SourceConfig, model: TabularMapping | None, rows: int) -> list[SampledField]:
    """Up to ``rows`` values under every header of every sheet of every file."""
    files, unmatched = resolve_files(source.connection, source.base_dir)
    if not files:
        missing = ", ".join(unmatched) or "(connection.path is not set)"
        raise SourceError(source.name, f"no file matches {missing}")
    header_row = model.read.header_row if model else 1
    header_rows = model.read.header_rows if model else 1
    encoding = model.read.encoding if model else "utf-8"
    mapped = _mapped_headers(model)
    limit = header_row + header_rows - 1 + rows
    found: list[SampledField] = []
    for path in files:
        suffix = path.suffix.lower()
        try:
            if suffix in _EXCEL_SUFFIXES:
                for title, sheet_rows in _excel_sheets(path, limit):
                    location = location_of(path, title, source.base_dir)
                    found += _fields(location, sheet_rows, header_row, header_rows, mapped)
            elif suffix in _PARQUET_SUFFIXES:
                location = location_of(path, None, source.base_dir)
                found += _fields(location, _parquet_rows(path, rows), 1, 1, mapped)
            elif suffix in _CSV_SUFFIXES or suffix == "":
                location = location_of(path, None, source.base_dir)
                sheet = _csv_rows(path, "utf-8-sig" if encoding == "utf-8" else encoding, limit)
                found += _fields(location, sheet, header_row, header_rows, mapped)
        except Exception as exc:
            raise SourceError(source.name, f"cannot read {path.name}: {exc}") from None
    return found
