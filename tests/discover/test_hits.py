"""The hits table: one fixed Arrow schema, values rendered as text with their type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pyarrow as pa
import pytest

from discover.hits import (
    HIT_COLUMN_DOCS,
    HIT_COLUMNS,
    HITS_SCHEMA,
    MATCH_KINDS,
    OPTIONAL_COLUMNS,
    empty_hits,
    hits_table,
    render_value,
    with_optional_columns,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "request_id": "REQ-1",
        "source": "crm",
        "location": "contacts",
        "record_key": "id=1",
        "field": "email",
        "value": "jan@example.nl",
        "value_type": "text",
        "identifier": "email",
        "category": "general.contact",
        "service": "general",
        "matched_on": "email:jan@example.nl",
        "match": "exact",
        "via": "email:jan@example.nl",
        "observed_at": NOW,
        "recorded_at": None,
        "overdue": False,
        "controller": "provider",
        "legal_basis": "contract",
        "portable": True,
        "secret": False,
        "third_party": False,
    }
    base.update(overrides)
    return base


def test_the_schema_has_the_agreed_columns_in_order() -> None:
    assert HIT_COLUMNS == (
        "request_id",
        "source",
        "location",
        "record_key",
        "field",
        "value",
        "value_type",
        "identifier",
        "category",
        "service",
        "matched_on",
        "match",
        "via",
        "observed_at",
        "recorded_at",
        "overdue",
        "controller",
        "legal_basis",
        "portable",
        "secret",
        "third_party",
        "origin",
        "secret_kind",
        "entity",
        "label_nl",
        "label_en",
        "file",
        "client",
    )
    assert set(HIT_COLUMN_DOCS) == set(HIT_COLUMNS)
    assert HITS_SCHEMA.field("observed_at").type == pa.timestamp("us", tz="UTC")
    assert not HITS_SCHEMA.field("request_id").nullable
    assert HITS_SCHEMA.field("value").nullable  # a withheld secret has no value
    assert set(MATCH_KINDS) == {"exact", "normalised", "expanded", "related", "possible"}


def test_rows_and_cases_without_the_optional_columns_read_them_as_null() -> None:
    table = hits_table([row()])
    assert table.column("origin").to_pylist() == [None]
    old = table.drop_columns(list(OPTIONAL_COLUMNS))
    assert with_optional_columns(old).select(list(HIT_COLUMNS)).schema.equals(HITS_SCHEMA)


def test_hits_table_always_has_the_schema() -> None:
    assert hits_table([]).schema.equals(HITS_SCHEMA)
    assert empty_hits().schema.equals(HITS_SCHEMA)
    assert empty_hits().num_rows == 0
    table = hits_table([row(), row(field="phone", value=None, secret=True)])
    assert table.schema.equals(HITS_SCHEMA)
    assert table.column("secret").to_pylist() == [False, True]


def test_a_row_missing_a_column_is_an_error() -> None:
    incomplete = row()
    del incomplete["via"]
    with pytest.raises(KeyError):
        hits_table([incomplete])


def test_a_required_column_cannot_be_null() -> None:
    with pytest.raises(ValueError, match="'category' must not be null"):
        hits_table([row(category=None)])
    hits_table([row(value=None, identifier=None, recorded_at=None)])  # these may be


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (None, "text")),
        (True, ("true", "boolean")),
        (31612345678, ("31612345678", "integer")),
        (Decimal("0.0125"), ("0.0125", "decimal")),
        (1.5, ("1.5", "decimal")),
        (datetime(2026, 1, 2, 3, 4, 5), ("2026-01-02T03:04:05", "datetime")),
        (date(2026, 1, 2), ("2026-01-02", "date")),
        (time(3, 4), ("03:04:00", "time")),
        ("Jan", ("Jan", "text")),
    ],
)
def test_render_value(value: object, expected: tuple[str | None, str]) -> None:
    assert render_value(value) == expected


def test_binary_values_become_their_size_and_digest_never_the_bytes() -> None:
    text, value_type = render_value(b"\x00secret-bytes")
    assert value_type == "binary"
    assert text.startswith("<binary: 13 bytes, sha256 ")
    assert "secret" not in text
    assert render_value(memoryview(b"abc"))[0] == render_value(bytearray(b"abc"))[0]


def test_photos_are_kept_as_data_uris_and_nothing_else() -> None:
    import base64

    from discover.hits import MAX_EMBEDDED, embedded_image

    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 20
    uri = embedded_image(jpeg)
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == jpeg
    assert embedded_image(b"\x89PNG\r\n\x1a\n....").startswith("data:image/png")  # type: ignore[union-attr]
    assert embedded_image(b"0\x82\x01\x0a certificate") is None  # not an image
    assert embedded_image(b"\xff\xd8\xff" + b"\x00" * MAX_EMBEDDED) is None  # too large
    assert embedded_image("text") is None
