"""The model of an SQL mapping (kind: sql): tables, their columns and relations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from discover.errors import ConfigError
from discover.mapping import FieldSpec, check_category, field_spec
from discover.register import Register

Follow = Literal["forward", "backward", "both"]


@dataclass(frozen=True, slots=True)
class SqlTable:
    """One mapped table: where it is, its key and its mapped columns."""

    name: str
    table: str
    schema: str | None
    key: tuple[str, ...]
    category: str
    entity: str
    columns: dict[str, FieldSpec]

    @property
    def location(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def searchable(self) -> list[FieldSpec]:
        return [spec for spec in self.columns.values() if spec.searchable]


@dataclass(frozen=True, slots=True)
class SqlRelation:
    """A reference ``from_table.from_column -> to_table.to_column`` and how to follow it."""

    from_table: str
    from_column: str
    to_table: str
    to_column: str
    follow: Follow

    @property
    def label(self) -> str:
        return f"{self.from_table}.{self.from_column} -> {self.to_table}.{self.to_column}"


@dataclass(frozen=True, slots=True)
class SqlMapping:
    """A whole SQL mapping."""

    tables: dict[str, SqlTable]
    relations: tuple[SqlRelation, ...]
    description: str = ""


def parse_sql_mapping(document: dict[str, Any], *, register: Register, file: str) -> SqlMapping:
    """Build the SqlMapping from a schema-valid document, checking cross-references."""
    tables: dict[str, SqlTable] = {}
    for name, raw in document["tables"].items():
        where = f"tables.{name}"
        check_category(raw["category"], register, file=file, where=f"{where}.category")
        columns = {
            column: field_spec(
                column,
                spec,
                default_category=raw["category"],
                register=register,
                file=file,
                where=f"{where}.columns.{column}",
            )
            for column, spec in raw["columns"].items()
        }
        key = (raw["key"],) if isinstance(raw["key"], str) else tuple(raw["key"])
        for column in key:
            if column not in columns:
                raise ConfigError(
                    file, f"{where}.key", f"key column {column!r} is not among the mapped columns"
                )
        for column in key:
            if columns[column].secret:
                raise ConfigError(
                    file, f"{where}.key", f"key column {column!r} cannot be a secret column"
                )
        for column, spec in columns.items():
            if spec.secret and spec.identifier:
                raise ConfigError(
                    file,
                    f"{where}.columns.{column}",
                    "a secret column cannot also be searched as an identifier",
                )
        tables[name] = SqlTable(
            name=name,
            table=raw.get("table", name),
            schema=raw.get("schema"),
            key=key,
            category=raw["category"],
            entity=raw.get("entity", "person"),
            columns=columns,
        )

    relations: list[SqlRelation] = []
    for index, raw in enumerate(document.get("relations", [])):
        ends = []
        for end in ("from", "to"):
            table, _, column = raw[end].partition(".")
            where = f"relations[{index}].{end}"
            if table not in tables:
                raise ConfigError(file, where, f"table {table!r} is not mapped")
            if column not in tables[table].columns:
                raise ConfigError(file, where, f"column {column!r} is not mapped in {table!r}")
            if tables[table].columns[column].secret:
                raise ConfigError(file, where, f"column {column!r} is a secret: it cannot join")
            ends.append((table, column))
        (from_table, from_column), (to_table, to_column) = ends
        relations.append(SqlRelation(from_table, from_column, to_table, to_column, raw["follow"]))
    return SqlMapping(
        tables=tables, relations=tuple(relations), description=document.get("description", "")
    )
