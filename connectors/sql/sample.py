"""Sampling a SQL database: every table and view, every column, the first N rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.sampling import SECRET_NAME, SampledField, finish, text_of
from connectors.sql.connector import open_engine
from connectors.sql.mapping import SqlMapping
from discover.errors import SourceError
from discover.sources import SourceConfig


def _mapped(model: SqlMapping | None) -> dict[tuple[str | None, str, str], Any]:
    places: dict[tuple[str | None, str, str], Any] = {}
    if model is not None:
        for table in model.tables.values():
            for column, spec in table.columns.items():
                places[(table.schema, table.table.casefold(), column.casefold())] = spec
    return places


def sample(source: SourceConfig, model: SqlMapping | None, rows: int) -> list[SampledField]:
    """Up to ``rows`` values of every column of every table (read-only connection)."""
    url = str(source.connection.get("url", ""))
    try:
        engine = open_engine(
            url, source.base_dir, timeout=int(source.connection.get("timeout", 10))
        )
    except (sa.exc.ArgumentError, FileNotFoundError, ValueError) as exc:
        raise SourceError(source.name, f"cannot open the database: {exc}") from None
    mapped = _mapped(model)
    schemas = sorted({key[0] for key in mapped}, key=str) or [None]
    found: list[SampledField] = []
    try:
        inspector = sa.inspect(engine)
        with engine.connect() as connection:
            for schema in schemas:
                names = inspector.get_table_names(schema=schema)
                names += inspector.get_view_names(schema=schema)
                for name in sorted(set(names)):
                    described = inspector.get_columns(name, schema=schema)
                    columns = [c["name"] for c in described]
                    temporal = {
                        c["name"]
                        for c in described
                        if isinstance(c["type"], sa.DateTime | sa.Date | sa.Time)
                    }
                    primary = set(
                        inspector.get_pk_constraint(name, schema=schema).get("constrained_columns")
                        or ()
                    )
                    references = {
                        column: f"{fk['referred_table']}.{target}"
                        for fk in inspector.get_foreign_keys(name, schema=schema)
                        for column, target in zip(
                            fk["constrained_columns"], fk["referred_columns"], strict=False
                        )
                    }
                    table = sa.table(name, *(sa.column(c) for c in columns), schema=schema)
                    # a secret's value never leaves the database, not even into a sample
                    hidden = {
                        c
                        for c in columns
                        if SECRET_NAME.search(c)
                        or getattr(mapped.get((schema, name.casefold(), c.casefold())), "secret", 0)
                    }
                    selected = [sa.null().label(c) if c in hidden else table.c[c] for c in columns]
                    query = sa.select(*selected).select_from(table).limit(rows)
                    result = connection.execute(query).all()
                    location = f"{schema}.{name}" if schema else name
                    for index, column in enumerate(columns):
                        spec = mapped.get((schema, name.casefold(), column.casefold()))
                        secret = bool(spec is not None and spec.secret)
                        values = (
                            [] if secret else [t for row in result if (t := text_of(row[index]))]
                        )
                        found.append(
                            SampledField(
                                location,
                                column,
                                values,
                                mapped=spec.name if spec is not None else None,
                                declared=spec.identifier if spec is not None else None,
                                secret=secret,
                                key=column in primary,
                                references=references.get(column),
                                temporal=column in temporal,
                            )
                        )
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        raise SourceError(source.name, f"{type(exc).__name__}: {detail}") from None
    finally:
        engine.dispose()
    return finish(found)
