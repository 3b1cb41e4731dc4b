"""The CSV format: one CSV file per record type, plus the metadata as a JSON sidecar.

``csv/<source>.<location>.csv``: UTF-8 without a byte-order mark, comma-separated,
``"``-quoted where needed, a header row with the column names (the source's field
names, record-level columns starting with ``_``), one row per record. An empty cell
is a field the record does not have *or* one whose value is withheld or redacted;
``csv/metadata.json`` tells which (``withheld`` / ``redacted``), and gives each
file's columns with their register category, value type and identifier type, plus,
for access packages, the Art. 15 information. Values are written exactly as the
hits hold them (no formula escaping: the CSV is for machines; people use the XLSX).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from exporters.json_export import SCHEMAS, dumps
from exporters.package import PackageWriter
from exporters.schemas import validate
from exporters.tables import RECORDED_AT, RecordType

CSV_DIR = "csv"
SIDECAR = f"{CSV_DIR}/metadata.json"


def csv_name(record_type: RecordType) -> str:
    return f"{CSV_DIR}/{record_type.file_stem}.csv"


def text_frame(record_type: RecordType) -> pl.DataFrame:
    """The record type as text columns, as written (record dates ISO 8601, UTC)."""
    frame = record_type.frame
    if RECORDED_AT in frame.columns:
        frame = frame.with_columns(
            pl.col(RECORDED_AT).dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%:z")
        )
    return frame


def write_csv_package(
    writer: PackageWriter,
    metadata: dict[str, Any],
    record_types: Sequence[RecordType],
    *,
    kind: str,
) -> list[str]:
    """Write the CSV files and the sidecar; ``metadata`` is the document without data."""
    files = []
    for record_type in record_types:
        name = csv_name(record_type)
        with writer.open(name, "wb") as handle:
            text_frame(record_type).write_csv(handle, include_header=True, line_terminator="\r\n")
        files.append(name)
    sidecar = dict(metadata)
    if kind == "access":
        sidecar["record_types"] = [
            {
                "id": r.id,
                "file": csv_name(r).removeprefix(f"{CSV_DIR}/"),
                "source": r.source,
                "location": r.location,
                "rows": r.rows,
                "columns": [c.to_document() for c in r.columns],
            }
            for r in record_types
        ]
    else:
        by_id = {r.id: r for r in record_types}
        sidecar["datasets"] = [
            {**d, "file": csv_name(by_id[d["id"]]).removeprefix(f"{CSV_DIR}/")}
            for d in metadata["datasets"]
        ]
    validate(sidecar, SCHEMAS[kind], what=SIDECAR)
    writer.write_bytes(SIDECAR, dumps(sidecar))
    return [*files, SIDECAR]
