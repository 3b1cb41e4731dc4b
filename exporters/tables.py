"""Record types: the included hits as one wide table per source and location.

The hits are long (one row per field value); people and spreadsheets want one row
per record with a column per field. A *record type* is one location of one source
(a table, a directory branch, a file): its records become rows, its fields columns,
in the order the source gave them. CSV writes one file per record type, XLSX one
sheet, the portability JSON one dataset, so that the three formats agree.

Column names are the source's field names (stable: they come from the mapping).
Record-level columns start with an underscore so that they never clash with a field:
``_record_key`` always, and in access packages ``_match``, ``_via`` and
``_recorded_at`` (why the record is the subject's, and its own date). Values stay the
text the hits hold; withheld and redacted values are null (empty in CSV and XLSX)
and listed in the package metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import polars as pl
import pyarrow as pa

from discover.policy import PackageKind

RECORD_KEY = "_record_key"
MATCH = "_match"
VIA = "_via"
RECORDED_AT = "_recorded_at"
META_COLUMNS: dict[str, tuple[str, ...]] = {
    "access": (MATCH, VIA, RECORDED_AT),
    "portability": (RECORDED_AT,),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a record type: a field of the source, or a record-level column."""

    name: str
    field: str | None
    category: str | None
    value_type: str
    identifier: str | None

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "field": self.field,
            "category": self.category,
            "value_type": self.value_type,
            "identifier": self.identifier,
        }


@dataclass(frozen=True, slots=True)
class RecordType:
    """The records of one location of one source, as a wide table of text values."""

    id: str
    source: str
    location: str
    columns: tuple[Column, ...]
    frame: pl.DataFrame

    @property
    def rows(self) -> int:
        return self.frame.height

    @property
    def file_stem(self) -> str:
        """A file-system-safe name, unique within a package (see :func:`record_types`)."""
        return _stem(self.id)


def _stem(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "records"


def _value_type(types: list[str]) -> str:
    kinds = set(types)
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"integer", "decimal"}:
        return "decimal"
    if kinds <= {"date", "datetime"}:
        return "datetime"
    return "text"


_HIT_COLUMNS = (
    "source",
    "location",
    "record_key",
    "field",
    "value",
    "value_type",
    "identifier",
    "category",
    "match",
    "via",
    "recorded_at",
)


def record_types(hits: pa.Table, *, kind: PackageKind) -> list[RecordType]:
    """The included hits (after the policy) as record types, sorted by source and location."""
    frame = pl.from_arrow(hits.select(list(_HIT_COLUMNS)))
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return []
    # Two values of one field in one record (a source may repeat an attribute) become
    # the columns "field", "field#2", ... rather than being merged or lost.
    occurrence = pl.int_range(pl.len()).over(["source", "location", "record_key", "field"])
    frame = frame.with_columns(
        pl.when(occurrence > 0)
        .then(pl.col("field") + "#" + (occurrence + 1).cast(pl.String))
        .otherwise(pl.col("field"))
        .alias("column")
    )
    result: list[RecordType] = []
    for (source, location), part in frame.group_by(["source", "location"], maintain_order=True):
        result.append(_record_type(str(source), str(location), part, kind))
    result.sort(key=lambda r: (r.source, r.location))
    seen: set[str] = set()
    unique: list[RecordType] = []
    for record_type in result:
        candidate, n = record_type.id, 2
        while _stem(candidate).lower() in seen:  # also unique on case-insensitive disks
            candidate, n = f"{record_type.id}-{n}", n + 1
        seen.add(_stem(candidate).lower())
        unique.append(
            record_type if candidate == record_type.id else replace(record_type, id=candidate)
        )
    return unique


def _record_type(source: str, location: str, part: pl.DataFrame, kind: PackageKind) -> RecordType:
    described = part.group_by("column", maintain_order=True).agg(
        pl.col("field").first(),
        pl.col("category").first(),
        pl.col("identifier").drop_nulls().first(),
        pl.col("value_type").unique(maintain_order=True),
    )
    columns = [Column(RECORD_KEY, None, None, "text", None)]
    taken = {RECORD_KEY, *META_COLUMNS[kind]}
    renames: dict[str, str] = {}
    for name, field, category, identifier, types in described.iter_rows():
        header = name
        while header in taken:  # a source field that is called like a record-level column
            header = f"{header}_"
        taken.add(header)
        if header != name:
            renames[name] = header
        columns.append(Column(header, field, category, _value_type(types), identifier))
    wide = part.pivot(
        on="column",
        index="record_key",
        values="value",
        aggregate_function="first",
        maintain_order=True,
    ).rename({"record_key": RECORD_KEY, **renames})
    record_level = part.group_by("record_key", maintain_order=True).agg(
        pl.col("match").first().alias(MATCH),
        pl.col("via").first().alias(VIA),
        pl.col("recorded_at").first().alias(RECORDED_AT),
    )
    meta = META_COLUMNS[kind]
    record_level = record_level.rename({"record_key": RECORD_KEY}).select(RECORD_KEY, *meta)
    wide = wide.join(record_level, on=RECORD_KEY, how="left", maintain_order="left")
    for name in meta:
        value_type = "datetime" if name == RECORDED_AT else "text"
        columns.append(Column(name, None, None, value_type, None))
    # every field column exists even when pivot produced no value for it
    missing = [c.name for c in columns if c.name not in wide.columns]
    if missing:
        wide = wide.with_columns(pl.lit(None, pl.String).alias(name) for name in missing)
    wide = wide.select([c.name for c in columns])
    return RecordType(f"{source}.{location}", source, location, tuple(columns), wide)
