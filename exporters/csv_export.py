"""The CSV format: one CSV file per record type, plus the metadata as a JSON sidecar.

``csv/<title>.csv`` is named by the record type's category in the package language
("Telefoonboek.csv", "Phonebook 2.csv"), never by a source file or record, whose
names may hold a MAC address. Each file is made for a person opening it in Excel as
well as for a program:

* UTF-8 **with** a byte-order mark: without it, Excel reads UTF-8 as the Windows
  code page and "Zoë" becomes "ZoÃ«";
* **semicolon**-separated: Excel splits a CSV it opens on the list separator of the
  computer's regional settings, which is ";" wherever the decimal separator is a
  comma (the Netherlands, most of Europe); with "," a Dutch Excel puts every row in
  one column. Programs read ";" as easily (the sidecar names the separator);
* ``"``-quoted where needed, CRLF line ends, a header row with the columns' labels in
  the package language (``csv/metadata.json`` maps each label to its field);
* a value that Excel would run as a formula (starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return) is written with a leading apostrophe, which
  Excel shows as text and never evaluates (OWASP's CSV-injection advice); phone
  numbers in E.164 (``+31…``) and plain negative numbers are left as they are. The
  JSON keeps every value exactly as found.

An empty cell is a field the record does not have *or* one whose value is withheld
or redacted; the sidecar tells which (``withheld`` / ``redacted``) and gives each
file's columns with their register category, value type and identifier type, plus,
for access packages, the Art. 15 information.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import polars as pl

from exporters.content import labels
from exporters.json_export import SCHEMAS, dumps
from exporters.package import PackageWriter
from exporters.schemas import validate
from exporters.tables import RECORDED_AT, RecordType, display_names, headers

CSV_DIR = "csv"
SIDECAR = f"{CSV_DIR}/metadata.json"
SEPARATOR = ";"
BOM = "\ufeff".encode()
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_HARMLESS = re.compile(r"^(\+\d{6,15}x*|-\d+([.,]\d+)?)$")


def neutralise(value: str | None) -> str | None:
    """A cell value that spreadsheet software will not run as a formula."""
    if value is None or not _FORMULA.match(value) or _HARMLESS.match(value):
        return value
    return "'" + value


def csv_names(record_types: Sequence[RecordType], titles: dict[str, str]) -> list[str]:
    """The file name of each record type, by its category's title (see module docstring)."""
    return [f"{CSV_DIR}/{name}.csv" for name in display_names(record_types, titles, max_length=60)]


def text_frame(record_type: RecordType) -> pl.DataFrame:
    """The record type as text columns, as written (record dates ISO 8601, UTC)."""
    frame = record_type.frame
    if RECORDED_AT in frame.columns:
        frame = frame.with_columns(
            pl.col(RECORDED_AT).dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%:z")
        )
    return frame


def _safe_frame(record_type: RecordType, language: str) -> pl.DataFrame:
    frame = text_frame(record_type)
    frame = frame.with_columns(
        pl.col(name).map_elements(neutralise, return_dtype=pl.String)
        for name in frame.columns
        if frame.schema[name] == pl.String
    )
    names = headers(record_type, language, labels()["labels"]["columns"])
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def write_csv_package(
    writer: PackageWriter,
    metadata: dict[str, Any],
    record_types: Sequence[RecordType],
    *,
    kind: str,
    language: str,
    titles: dict[str, str],
) -> list[str]:
    """Write the CSV files and the sidecar; ``metadata`` is the document without data."""
    files = []
    names = csv_names(record_types, titles)
    for record_type, name in zip(record_types, names, strict=True):
        with writer.open(name, "wb") as handle:
            handle.write(BOM)
            _safe_frame(record_type, language).write_csv(
                handle, include_header=True, separator=SEPARATOR, line_terminator="\r\n"
            )
        files.append(name)
    sidecar = dict(metadata)
    sidecar["csv"] = {"encoding": "utf-8-sig", "separator": SEPARATOR, "formula_prefix": "'"}
    by_id = {r.id: n.removeprefix(f"{CSV_DIR}/") for r, n in zip(record_types, names, strict=True)}
    column_labels = labels()["labels"]["columns"]
    if kind == "access":
        sidecar["record_types"] = [
            {
                "id": r.id,
                "file": by_id[r.id],
                "category": r.category,
                "source": r.source,
                "location": r.location,
                "rows": r.rows,
                "columns": [
                    {**c.to_document(), "header": h}
                    for c, h in zip(r.columns, headers(r, language, column_labels), strict=True)
                ],
            }
            for r in record_types
        ]
    else:
        by_type = {r.id: r for r in record_types}
        sidecar["datasets"] = [
            {
                **d,
                "file": by_id[d["id"]],
                "columns": [
                    {**c, "header": h}
                    for c, h in zip(
                        d["columns"],
                        headers(by_type[d["id"]], language, column_labels),
                        strict=True,
                    )
                ],
            }
            for d in metadata["datasets"]
        ]
    validate(sidecar, SCHEMAS[kind], what=SIDECAR)
    writer.write_bytes(SIDECAR, dumps(sidecar))
    return [*files, SIDECAR]
