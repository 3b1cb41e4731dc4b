"""The hits table: one Arrow schema for every source, exporter and job.

Long format: one row per field value of a matched record, with where it came from
(source, location, record key, field), why it matched (matched_on, match, via), and
how the register says it must be treated (category, controller, legal basis,
portable, secret, third_party), and the client organisation it is held for.
Category, identity and policy are real columns, never Arrow metadata, so they
survive Parquet, CSV and any join.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from discover.hit_values import (
    MATCH_KINDS,
    MAX_EMBEDDED,
    MatchKind,
    ValueType,
    embedded_image,
    render_value,
)

__all__ = [
    "HITS_SCHEMA",
    "HIT_COLUMNS",
    "HIT_COLUMN_DOCS",
    "MATCH_KINDS",
    "MAX_EMBEDDED",
    "OPTIONAL_COLUMNS",
    "MatchKind",
    "ValueType",
    "embedded_image",
    "empty_hits",
    "hits_table",
    "render_value",
    "with_optional_columns",
]


_TS = pa.timestamp("us", tz="UTC")

HITS_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("location", pa.string(), nullable=False),
        pa.field("record_key", pa.string(), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("value_type", pa.string(), nullable=False),
        pa.field("identifier", pa.string()),
        pa.field("category", pa.string(), nullable=False),
        pa.field("service", pa.string(), nullable=False),
        pa.field("matched_on", pa.string(), nullable=False),
        pa.field("match", pa.string(), nullable=False),
        pa.field("via", pa.string(), nullable=False),
        pa.field("observed_at", _TS, nullable=False),
        pa.field("recorded_at", _TS),
        pa.field("overdue", pa.bool_(), nullable=False),
        pa.field("controller", pa.string(), nullable=False),
        pa.field("legal_basis", pa.string(), nullable=False),
        pa.field("portable", pa.bool_(), nullable=False),
        pa.field("secret", pa.bool_(), nullable=False),
        pa.field("third_party", pa.bool_(), nullable=False),
        pa.field("origin", pa.string()),
        pa.field("secret_kind", pa.string()),
        pa.field("entity", pa.string()),
        pa.field("label_nl", pa.string()),
        pa.field("label_en", pa.string()),
        pa.field("file", pa.string()),
        pa.field("client", pa.string()),
    ]
)
HIT_COLUMNS: tuple[str, ...] = tuple(HITS_SCHEMA.names)
#: Columns added after the first cases were written: a case or row without them reads
#: them as null (the exporters then take the register's defaults).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "origin",
    "secret_kind",
    "entity",
    "label_nl",
    "label_en",
    "file",
    "client",
)

#: What each column means; the README's hits-schema table is generated from the same words.
HIT_COLUMN_DOCS: Mapping[str, str] = {
    "request_id": "the request this hit answers",
    "source": "source name from the sources file",
    "location": "table (schema.table), directory DN, or file[#sheet]",
    "record_key": "the record's key within its location, e.g. id=17",
    "field": "column / attribute / file field name",
    "value": "the value as text; null for a withheld secret",
    "value_type": "text, integer, decimal, boolean, date, datetime, time or binary",
    "identifier": "identifier type the field holds (email, phone …), null if none",
    "category": "register category id (mappings/register.yaml)",
    "service": "the register service of the category",
    "matched_on": "the subject's identifiers that led to this record, '; '-separated",
    "match": "exact | normalised | expanded | related | possible",
    "via": "provenance: the chain from the request's identifier to this record",
    "observed_at": "when discover read the record (UTC)",
    "recorded_at": "the record's own date, where the mapping names one",
    "overdue": "its category's fixed retention period had run out when it was read",
    "controller": "provider or client (the client organisation)",
    "legal_basis": "contract, legal_obligation, legitimate_interest or consent",
    "portable": "included in a portability package (consent or contract)",
    "secret": "password / PIN / PUK / codeword: value withheld, never exported",
    "third_party": "identifies another person: redacted in packages (Art. 15(4))",
    "origin": "provided, observed, derived or system (WP242); null: the category's default",
    "secret_kind": "subject (offered on request) or system (never offered); null if not secret",
    "entity": "what the record is: person, organisation or event",
    "label_nl": "the field's name in Dutch packages (the mapping's label)",
    "label_en": "the field's name in English packages (the mapping's label)",
    "file": "a recording's path, or a photo as a data: URI (packages hold it as a file)",
    "client": (
        "the client organisation the record is held for (a name from the sources file's "
        "clients); null: not known"
    ),
}


def hits_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build a table in HITS_SCHEMA from row dicts.

    A missing column is a KeyError; a null in a column the schema marks not-null is a
    ValueError naming it (Arrow itself does not check, and Parquet would then hold a
    "required" column with gaps).
    """
    rows = list(rows)
    columns = {
        name: [row.get(name) if name in OPTIONAL_COLUMNS else row[name] for row in rows]
        for name in HIT_COLUMNS
    }
    table = pa.Table.from_pydict(columns, schema=HITS_SCHEMA)
    for schema_field in HITS_SCHEMA:
        if not schema_field.nullable and table.column(schema_field.name).null_count:
            raise ValueError(f"hits column {schema_field.name!r} must not be null")
    return table


def with_optional_columns(table: pa.Table) -> pa.Table:
    """``table`` with every optional column it lacks added as nulls (older cases)."""
    for name in OPTIONAL_COLUMNS:
        if name not in table.column_names:
            table = table.append_column(
                HITS_SCHEMA.field(name), pa.nulls(table.num_rows, pa.string())
            )
    return table


def empty_hits() -> pa.Table:
    """A hits table with no rows."""
    return HITS_SCHEMA.empty_table()
