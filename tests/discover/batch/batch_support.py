"""Helpers for the batch tests: comparing hits, writing requests files, poisoning a source."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: observed_at says when a record was read, so it differs between any two searches.
VOLATILE = ("observed_at",)


def comparable(hits: pa.Table) -> list[tuple[Any, ...]]:
    """The hits as sorted rows without the columns that differ between two runs."""
    columns = [name for name in hits.column_names if name not in VOLATILE]
    rows = hits.select(columns).to_pylist()
    return sorted(tuple((k, repr(row[k])) for k in columns) for row in rows)


def case_hits(case: Path) -> list[tuple[Any, ...]]:
    return comparable(pq.read_table(case / "hits.parquet"))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns: list[str] = []
    for row in rows:
        columns.extend(column for column in row if column not in columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, documents: list[dict[str, Any] | str]) -> Path:
    lines = [d if isinstance(d, str) else json.dumps(d, ensure_ascii=False) for d in documents]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_report(out: Path) -> dict[str, Any]:
    return json.loads((out / "batch-report.json").read_text(encoding="utf-8"))


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["request_id"]: line for line in report["requests"] if line["request_id"]}


def poison(database: Path, table: str, column: str, value: str, *, spoil: str) -> None:
    """Make every query that returns the row whose ``column`` is ``value`` fail.

    The table becomes a view over its data in which, for that one row, the column
    ``spoil`` is ``abs(-9223372036854775808)``: SQLite raises "integer overflow"
    whenever the row is read. A real database error in a real source, hit only by a
    search whose identifiers reach that row (a corrupt record, in effect). ``spoil``
    must be a column no query filters on (not a key or join column).
    """
    connection = sqlite3.connect(database)
    try:
        names = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        literal = value.replace("'", "''")
        select = ", ".join(
            f"CASE WHEN {column} = '{literal}' THEN abs(-9223372036854775807 - 1) "
            f"ELSE {name} END AS {name}"
            if name == spoil
            else name
            for name in names
        )
        connection.executescript(
            f"""
            ALTER TABLE {table} RENAME TO {table}_data;
            CREATE VIEW {table} AS SELECT {select} FROM {table}_data;
            """
        )
    finally:
        connection.close()


def cure(database: Path, table: str) -> None:
    """Undo :func:`poison`."""
    connection = sqlite3.connect(database)
    try:
        connection.executescript(f"DROP VIEW {table}; ALTER TABLE {table}_data RENAME TO {table};")
    finally:
        connection.close()


def package_dirs(out: Path) -> list[str]:
    """Every entry of packages/, hidden ones (staging leftovers) included."""
    folder = out / "packages"
    return sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
