"""Record types: the included hits as one wide table per source and location.

The hits are long (one row per field value); people and spreadsheets want one row
per record with a column per field. A *record type* is one location of one source
(a table, a directory branch, a file): its records become rows, its fields columns,
in the order the source gave them. CSV writes one file per record type, XLSX one
sheet, the portability JSON one dataset, so that the three formats agree.

Column names are the source's field names (stable: they come from the mapping);
what a person reads above a column is its label in the package language (the
mapping's ``label``, see :func:`headers`), and a record type is named by its
category's title (:func:`display_names`), never by a file or record name, which may
hold a MAC address or a person's name. A phone number column is followed by the same
numbers in E.164 (``<name>.e164``). Record-level columns start with an underscore so
that they never clash with a field: ``_record_key`` always, ``_controller`` (the
organisation that answers for the record: the provider, or the client it is held for)
and ``_recorded_at`` (its own date), and in access packages ``_match`` and ``_via``
(why the record is the subject's). Values stay the text the hits hold; withheld and
redacted values are null (empty in CSV and XLSX) and listed in the package metadata.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pyarrow as pa

from discover.identifiers import try_normalise
from discover.policy import PackageKind

RECORD_KEY = "_record_key"
MATCH = "_match"
VIA = "_via"
RECORDED_AT = "_recorded_at"
CONTROLLER = "_controller"
E164_SUFFIX = ".e164"
META_COLUMNS: dict[str, tuple[str, ...]] = {
    "access": (MATCH, VIA, CONTROLLER, RECORDED_AT),
    "portability": (CONTROLLER, RECORDED_AT),
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
    label: Mapping[str, str] | None = None

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "field": self.field,
            "category": self.category,
            "value_type": self.value_type,
            "identifier": self.identifier,
            "label": dict(self.label) if self.label else None,
        }


@dataclass(frozen=True, slots=True)
class RecordType:
    """The records of one location of one source, as a wide table of text values."""

    id: str
    source: str
    location: str
    columns: tuple[Column, ...]
    frame: pl.DataFrame
    #: the category most of its fields belong to: names the sheet and the file
    category: str = ""

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
    "label_nl",
    "label_en",
)


def headers(
    record_type: RecordType, language: str, record_labels: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """What a person reads above each column: the field's label in ``language``.

    ``record_labels`` names the record-level columns (``_match`` …); a field without a
    label in its mapping keeps its name; a repeated field is "label (2)"; the E.164
    twin of a phone column is "label (E.164)". Headers are unique within the table.
    """
    result: list[str] = []
    seen: Counter[str] = Counter()
    for column in record_type.columns:
        base = column.name
        suffix = ""
        if column.name.endswith(E164_SUFFIX):
            base, suffix = column.name.removesuffix(E164_SUFFIX), " (E.164)"
        name, _, repeat = base.partition("#")
        if column.field is None and column.name in record_labels:
            text = record_labels[column.name][language]
        elif column.label and column.label.get(language):
            text = column.label[language]
        else:
            text = name
        if repeat:
            text = f"{text} ({repeat})"
        if ": " in (column.field or ""):
            # a field of a linked record (another keyholder of the same alarm object)
            text = f"{text} ({LINKED[language] if language in LINKED else LINKED['en']})"
        text += suffix
        unique, n = text, 1
        while unique in seen:
            n += 1
            unique = f"{text} [{n}]"
        seen[unique] += 1
        result.append(unique)
    return result


#: what a column of a linked record says after its label, in the package language
LINKED = {"nl": "gekoppelde vermelding", "en": "linked record"}


def display_names(
    record_types: Sequence[RecordType],
    titles: Mapping[str, str],
    *,
    max_length: int = 31,
    reserved: Sequence[str] = (),
) -> list[str]:
    """One readable, unique name per record type: its category's title ("Telefoonboek",
    "Telefoonboek 2" …), safe as a file and a sheet name, unique ignoring case."""
    taken = {name.lower() for name in reserved}
    names = []
    for record_type in record_types:
        base = _SHEET_SAFE.sub("-", titles.get(record_type.category, record_type.category))
        base = base.strip(" .'-")[:max_length] or "data"
        name, n = base, 2
        while name.lower() in taken:
            suffix = f" {n}"
            name, n = base[: max_length - len(suffix)] + suffix, n + 1
        taken.add(name.lower())
        names.append(name)
    return names


_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_DUTCH = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
#: what may be a date: the Python parse runs only on columns holding one
_DATE_LIKE = r"^\d{1,4}-\d{1,2}-\d{2,4}"
_DIALABLE = re.compile(r"^[\d\s()+./-]+$")


def iso_datetime(value: str | None) -> str | None:
    """A date-time value in one form, ISO 8601 with its time zone (2026-11-23T09:57:15+00:00).

    A value without a zone is read as UTC, as the engine reads record dates; a Dutch
    spreadsheet's "13-11-2026 10:01" is read day first; a value that is not a date or
    date-time is returned as it is.
    """
    if value is None:
        return value
    dutch = _DUTCH.match(value)
    if dutch:
        day, month, year, hour, minute, second = dutch.groups()
        try:
            if hour is None:
                return date(int(year), int(month), int(day)).isoformat()
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                tzinfo=UTC,
            )
        except ValueError:
            return value
        return moment.isoformat(timespec="seconds")
    if not _DATETIME.match(value):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    spec = "seconds" if not parsed.microsecond else "microseconds"
    return parsed.isoformat(timespec=spec)


def e164(value: str | None) -> str | None:
    """A phone number in E.164, or None (also for a masked number: letters are not
    read as keypad digits)."""
    if value is None or not _DIALABLE.match(value):
        return None
    return try_normalise("phone", value)


_SHEET_SAFE = re.compile(r"[\[\]:*?/\\<>|\"\x00-\x1f]+")


def record_types(
    hits: pa.Table, *, kind: PackageKind, controller_names: Sequence[str] | None = None
) -> list[RecordType]:
    """The included hits (after the policy) as record types, sorted by source and location.

    ``controller_names`` is each hit's controller by name (the provider, or the client
    its record is held for): a record's ``_controller`` is its fields' controllers,
    one or, for a record holding both the provider's and a client's data, both.
    """
    frame = pl.from_arrow(hits.select(list(_HIT_COLUMNS)))
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return []
    frame = frame.with_columns(
        pl.Series("controller_name", controller_names, dtype=pl.String)
        if controller_names is not None
        else pl.lit(None, pl.String).alias("controller_name")
    )
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
        pl.col("label_nl").drop_nulls().first(),
        pl.col("label_en").drop_nulls().first(),
    )
    columns = [Column(RECORD_KEY, None, None, "text", None)]
    taken = {RECORD_KEY, *META_COLUMNS[kind]}
    renames: dict[str, str] = {}
    phones: list[str] = []
    for name, field, category, identifier, types, label_nl, label_en in described.iter_rows():
        header = name
        while header in taken:  # a source field that is called like a record-level column
            header = f"{header}_"
        taken.add(header)
        if header != name:
            renames[name] = header
        label = {"nl": label_nl, "en": label_en} if label_nl and label_en else None
        columns.append(Column(header, field, category, _value_type(types), identifier, label))
        if identifier == "phone":
            phones.append(header)
            columns.append(Column(header + E164_SUFFIX, None, category, "text", None, label))
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
        pl.col("controller_name").drop_nulls().unique(maintain_order=True).alias(CONTROLLER),
    )
    record_level = record_level.with_columns(
        pl.when(pl.col(CONTROLLER).list.len() > 0).then(pl.col(CONTROLLER).list.join(" / "))
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
    dates = [
        c.name
        for c in columns
        if c.field is not None
        and c.identifier is None
        and c.name in wide.columns
        and bool(wide.get_column(c.name).str.contains(_DATE_LIKE).any())  # checked in Rust
    ]
    if dates:  # one date-time form in every format: ISO 8601 with the zone
        wide = wide.with_columns(
            pl.col(name).map_elements(iso_datetime, return_dtype=pl.String) for name in dates
        )
    if phones:
        wide = wide.with_columns(
            pl.col(name).map_elements(e164, return_dtype=pl.String).alias(name + E164_SUFFIX)
            for name in phones
        )
    wide = wide.select([c.name for c in columns])
    counts = part.get_column("category").value_counts(sort=True)
    main = str(counts.get_column("category")[0]) if counts.height else ""
    return RecordType(f"{source}.{location}", source, location, tuple(columns), wide, main)
