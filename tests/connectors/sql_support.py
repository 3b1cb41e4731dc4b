"""Helpers for the SQL connector tests: build tables in a real database, make a connector.

Tables are created and filled through a separate, writable engine; the connector
under test opens its own read-only engine, exactly as in a search.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.base import Record
from connectors.sql.connector import SqlConnector
from connectors.sql.profile import ColumnProfile
from discover.config import validate
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import Settings, SourceConfig


@contextmanager
def writer(url: str) -> Iterator[sa.Engine]:
    """A writable engine for setting up test data (never the connector's)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def create(url: str, metadata: sa.MetaData, rows: dict[str, Iterable[dict[str, Any]]]) -> None:
    """Create the tables of ``metadata`` and insert ``rows`` (table name, no schema -> rows)."""
    with writer(url) as engine:
        metadata.create_all(engine)
        tables = {table.name: table for table in metadata.tables.values()}
        with engine.begin() as connection:
            for name, table_rows in rows.items():
                table_rows = list(table_rows)
                if table_rows:
                    connection.execute(tables[name].insert(), table_rows)


def connector(
    url: str,
    mapping: dict[str, Any],
    *,
    name: str = "testdb",
    settings: Settings | None = None,
    base_dir: Path | None = None,
) -> SqlConnector:
    """A connector for ``url`` with ``mapping`` (a mapping document, schema-checked)."""
    document = {"version": 1, "kind": "sql", **mapping}
    validate(document, SqlConnector.mapping_schema, file="test.yaml")
    register = default_register()
    model = SqlConnector.parse_mapping(document, register=register, file="test.yaml")
    source = SourceConfig(
        name=name,
        kind="sql",
        mapping_path=Path("test.yaml"),
        connection={"url": url, "timeout": 3},
        base_dir=base_dir or Path.cwd(),
    )
    return SqlConnector(source, model, register, settings or Settings())


def ident(kind: str, raw: str) -> Identifier:
    return Identifier.parse(kind, raw)


def keys(records: Iterable[Record], location: str | None = None) -> set[str]:
    """The record keys (of one location, when given)."""
    return {r.key for r in records if location is None or r.location == location}


def by_key(records: Iterable[Record]) -> dict[tuple[str, str], Record]:
    return {(r.location, r.key): r for r in records}


def profile_from_values(kind: str, values: Iterable[Any]) -> ColumnProfile:
    """The profile reading every distinct value gives (what learning must equal)."""
    profile = ColumnProfile(kind)
    for value in dict.fromkeys(values):
        profile.add(value)
    return profile
