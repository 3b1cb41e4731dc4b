"""Sampling a SQL database for discovery: every table and column, mapped or not."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sql_support import create

from connectors.sampling import SampledField, sampler
from connectors.sql.connector import SqlConnector
from discover.errors import SourceError
from discover.register import default_register
from discover.sources import SourceConfig

MAPPING = {
    "version": 1,
    "kind": "sql",
    "tables": {
        "customers": {
            "key": "id",
            "category": "general.contact",
            "columns": {"id": None, "email": {"identifier": "email"}, "pin": {"secret": True}},
        }
    },
}


def _database(url: str) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("mobile", sa.String(30)),
        sa.Column("pin", sa.String(20)),
    )
    sa.Table(
        "payroll",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bsn", sa.String(9)),
    )
    create(
        url,
        metadata,
        {
            "customers": [
                {"id": 1, "email": "jan@example.nl", "mobile": "06-12345678", "pin": "Geheim-1234"},
                {
                    "id": 2,
                    "email": "zoe@example.nl",
                    "mobile": "+31687654321",
                    "pin": "Geheim-5678",
                },
            ],
            "payroll": [{"id": 1, "bsn": "111222333"}, {"id": 2, "bsn": "123456782"}],
        },
    )


def _sample(url: str, rows: int = 10) -> dict[tuple[str, str], SampledField]:
    model = SqlConnector.parse_mapping(MAPPING, register=default_register(), file="crm.yaml")
    source = SourceConfig("crm", "sql", Path("crm.yaml"), {"url": url, "timeout": 3})
    return {(p.location, p.field): p for p in sampler("sql")(source, model, rows)}


def test_every_column_of_every_table_with_its_mapping(database_url: str) -> None:
    _database(database_url)
    places = _sample(database_url)
    assert {("customers", c) for c in ("id", "email", "mobile", "pin")} <= set(places)
    assert ("payroll", "bsn") in places
    assert places[("customers", "email")].mapped == "email"
    assert places[("customers", "email")].declared == "email"
    assert places[("customers", "mobile")].mapped is None
    assert places[("payroll", "bsn")].mapped is None
    assert sorted(places[("customers", "mobile")].values) == ["+31687654321", "06-12345678"]


def test_a_secret_columns_values_are_never_sampled(database_url: str) -> None:
    _database(database_url)
    pin = _sample(database_url)[("customers", "pin")]
    assert pin.secret
    assert pin.values == []


def test_the_sample_is_limited_to_n_rows(database_url: str) -> None:
    _database(database_url)
    assert len(_sample(database_url, rows=1)[("customers", "mobile")].values) == 1


def test_a_missing_database_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        _sample(f"sqlite:///{tmp_path}/missing.sqlite")
    assert caught.value.source == "crm"
