"""Learning a table's column profiles, the digit patterns computed by the database.

A profile (:mod:`connectors.sql.profile`) must see every distinct value of a column.
Reading them all into Python costs a transfer of every distinct value (millions of
phone numbers in a call-record table) and, on PostgreSQL, a cursor, which the
planner never runs in parallel. What a digit profile keeps of a value, though, is
determined by three things only: whether the column stores numbers, the value's text
with each ASCII digit replaced by a placeholder (its layout), and its first or last
:data:`~connectors.sql.profile.MAX_SIDE` ASCII digits. So the database computes
those three per distinct value and returns each combination once; Python rebuilds, per
combination, a value with exactly that layout and those digits and feeds it to the
same :meth:`ColumnProfile.add_text` as a read value, so the profile is the one the
values would give (the rules live in one place). All digit columns of a table are
learnt by one statement (a ``UNION ALL`` of one grouping per column: on PostgreSQL
each part runs in parallel, which ``GROUPING SETS`` does not).

Only ASCII digits are placeholders on every backend (PostgreSQL ``translate``,
MariaDB ``REGEXP_REPLACE('[0-9]')``, SQLite nested ``replace``), as in
:meth:`ColumnProfile.add_text`: any other character, a fullwidth or Arabic-Indic
digit too, stays literal text in the layout and so reaches the same refusals.

A column the database cannot describe this way is read value by value as before
(:func:`connectors.sql.profile.learn_values`): text columns (e-mail addresses and the
like: their case rules are Python's, not the database's), columns of other types
(``NUMERIC``, ``CHAR(n)``, whose text the cast changes; SQLite values stored as REAL
or BLOB), and every column on other backends.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.sql.profile import (
    DIGIT_TYPES,
    MAX_SIDE,
    ColumnProfile,
    expression_indexed,
    learn_values,
)

#: SQLite has no way to drop every non-digit: this function, registered when needed
SQLITE_DIGITS = "discover_ascii_digits"
_NOT_DIGIT = re.compile("[^0-9]")
#: PostgreSQL: memory for the distinct values while learning (when less is configured)
WORK_MEM = "32MB"
_DIGITS = "0123456789"
#: per backend, the column types whose values the database writes as the driver
#: returns them (text as stored, integers in decimal): "text" or "number"
_PG_TYPES = {
    "text": "text",
    "character varying": "text",
    "smallint": "number",
    "integer": "number",
    "bigint": "number",
}
_MYSQL_TYPES = {
    "varchar": "text",
    "text": "text",
    "tinytext": "text",
    "mediumtext": "text",
    "longtext": "text",
    "tinyint": "number",
    "smallint": "number",
    "mediumint": "number",
    "int": "number",
    "bigint": "number",
}
_SQLITE_TYPES = {"text": "text", "integer": "number"}


def learn(
    connection: Connection,
    clause: sa.TableClause,
    columns: dict[str, str],
    key: str | None,
    *,
    schema: str | None = None,
) -> tuple[int | None, dict[str, ColumnProfile]]:
    """Profile ``columns`` (name -> identifier type) of ``clause`` from every distinct value.

    Returns the largest integer key first read (None when the key is not a single
    integer column), so that rows added while or after learning are searched by the
    key guard. A column with an expression index is not profiled.
    """
    indexed = expression_indexed(connection, clause.name, schema)
    key_max: int | None = None
    if key is not None:
        value = connection.execute(sa.select(sa.func.max(clause.c[key]))).scalar()
        if isinstance(value, int) and not isinstance(value, bool):
            key_max = value
        elif isinstance(value, Decimal) and value == value.to_integral_value():
            key_max = int(value)
    profiles: dict[str, ColumnProfile] = {}
    for column, kind in columns.items():
        profile = ColumnProfile(kind)
        profiles[column] = profile
        if column.lower() in indexed:
            profile.refused = "an expression index serves the normalising predicate"
    digits = [c for c, p in profiles.items() if p.refused is None and p.kind in DIGIT_TYPES]
    done = learn_digit_patterns(connection, clause, {c: profiles[c] for c in digits}, schema)
    for column, profile in profiles.items():
        if profile.refused is None and column not in done:
            learn_values(connection, clause, column, profile)
    return key_max, profiles


def learn_digit_patterns(
    connection: Connection,
    clause: sa.TableClause,
    profiles: dict[str, ColumnProfile],
    schema: str | None,
) -> set[str]:
    """Learn the digit ``profiles`` from the patterns the database computes, in one
    statement; returns the columns learnt (the others must be read value by value)."""
    backend = connection.dialect.name
    if not profiles or backend not in ("postgresql", "sqlite", "mysql", "mariadb"):
        return set()
    names = list(profiles)
    declared: dict[str, str | None] = {}
    if backend in ("mysql", "mariadb"):
        if not _has_regexp_replace(connection):
            return set()
        declared = _mysql_types(connection, clause.name, schema, names)
        names = [name for name in names if declared.get(name) is not None]
    elif backend == "sqlite":
        _register_digits(connection)
    if not names:
        return set()
    if backend == "postgresql":
        # one hash table of distinct values per column: with the default 4 MB, a few
        # hundred thousand phone numbers spill to disk; for this transaction only
        connection.execute(
            sa.text(
                "SELECT set_config('work_mem', :size, true) "
                "WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(:size)"
            ),
            {"size": WORK_MEM},
        )
    parts = [
        _patterns(backend, clause.c[name], index, DIGIT_TYPES[profiles[name].kind])
        for index, name in enumerate(names)
    ]
    statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    found: dict[str, list[tuple[bool, str, str]]] = defaultdict(list)
    unreadable: set[str] = set()
    for index, stored, layout, side in connection.execute(statement):
        name = names[index]
        kind = declared.get(name) if declared else _TYPES[backend].get(str(stored))
        if kind is None or layout is None:
            unreadable.add(name)
        else:
            found[name].append((kind == "number", str(layout), str(side or "")))
    for name in names:
        if name in unreadable:
            continue
        profile = profiles[name]
        side = DIGIT_TYPES[profile.kind]
        for number, layout, digits in sorted(found[name]):
            profile.add_text(number, _example(layout, digits, side))
    return set(names) - unreadable


_TYPES = {"postgresql": _PG_TYPES, "sqlite": _SQLITE_TYPES}


def _example(layout: str, digits: str, side: str) -> str:
    """A value with ``layout`` (ASCII digits written as 0) whose first (heads) or last
    (tails) digits are ``digits``; the others, which no profile keeps, are zeros."""
    parts = layout.split("0")
    pad = "0" * (len(parts) - 1 - len(digits))
    filled = digits + pad if side == "heads" else pad + digits
    return "".join(p + d for p, d in zip(parts, filled, strict=False)) + parts[-1]


def _patterns(backend: str, column: sa.ColumnClause, index: int, side: str) -> sa.Select:
    """One column's distinct (stored type, layout, leading/trailing digits)."""
    present = column.is_not(None)
    if backend in ("mysql", "mariadb"):
        # the column's collation may equate values that differ in case or trailing
        # blanks; every stored spelling is wanted, so values are told apart by bytes
        values = (
            sa.select(sa.func.min(column).label("v"))
            .where(present)
            .group_by(sa.cast(column, sa.LargeBinary))
            .subquery()
        )
    else:
        values = sa.select(column.label("v")).where(present).distinct().subquery()
    value = values.c.v
    text = sa.cast(value, sa.String if backend in ("mysql", "mariadb") else sa.Text)
    # constants as SQL literals: GROUP BY repeats the expressions, which bound
    # parameters would make different ones
    ascii_digits, zeros, empty = (sa.literal_column(f"'{c}'") for c in (_DIGITS, "0" * 10, ""))
    if backend == "postgresql":
        stored: Any = sa.cast(sa.func.pg_typeof(value), sa.Text)
        layout: Any = sa.func.translate(text, ascii_digits, zeros)
        digits: Any = sa.func.translate(text, sa.func.translate(text, ascii_digits, empty), empty)
    elif backend == "sqlite":
        stored = sa.func.typeof(value)
        layout = text
        for digit in _DIGITS[1:]:
            layout = sa.func.replace(
                layout, sa.literal_column(f"'{digit}'"), sa.literal_column("'0'")
            )
        digits = getattr(sa.func, SQLITE_DIGITS)(text)
    else:
        stored = empty
        layout = sa.func.regexp_replace(
            text, sa.literal_column("'[0-9]'"), sa.literal_column("'0'")
        )
        digits = sa.func.regexp_replace(text, sa.literal_column("'[^0-9]'"), empty)
    width = sa.literal_column(str(MAX_SIDE))
    if side == "heads":
        kept: Any = sa.func.substr(digits, sa.literal_column("1"), width)
    elif side == "tails":
        kept = (
            sa.func.substr(digits, sa.literal_column(str(-MAX_SIDE)))
            if backend == "sqlite"
            else sa.func.right(digits, width)
        )
    else:
        kept = empty
    column_index = sa.literal_column(str(index))
    varying = [] if side == "exact" else [kept]  # a constant is no grouping
    if backend in ("mysql", "mariadb"):
        # grouped by bytes, like the values above
        grouped = sa.select(
            column_index.label("c"),
            stored.label("t"),
            sa.func.min(layout).label("l"),
            kept.label("s"),
        ).group_by(sa.cast(layout, sa.LargeBinary), *varying)
    else:
        grouped = sa.select(
            column_index.label("c"), stored.label("t"), layout.label("l"), kept.label("s")
        ).group_by(stored, layout, *varying)
    return grouped.select_from(values)


def _has_regexp_replace(connection: Connection) -> bool:
    """REGEXP_REPLACE came with MariaDB 10.0.5 and MySQL 8.0.4."""
    dialect = connection.dialect
    version = tuple(getattr(dialect, "server_version_info", None) or ())
    if getattr(dialect, "is_mariadb", False):
        return version >= (10, 0, 5)
    return version >= (8, 0, 4)


def _mysql_types(
    connection: Connection, table: str, schema: str | None, names: list[str]
) -> dict[str, str | None]:
    """MariaDB/MySQL: "text" or "number" for the columns whose values the database
    writes as the driver returns them; None for the others."""
    rows = connection.execute(
        sa.text(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_NAME = :table AND TABLE_SCHEMA = COALESCE(:schema, DATABASE())"
        ),
        {"table": table, "schema": schema},
    )
    types = {str(name).lower(): str(kind).lower() for name, kind in rows}
    return {name: _MYSQL_TYPES.get(types.get(name.lower(), "")) for name in names}


def _ascii_digits(value: object) -> str | None:
    return None if value is None else _NOT_DIGIT.sub("", str(value))


def _register_digits(connection: Connection) -> None:
    """Register :data:`SQLITE_DIGITS` on this SQLite connection (idempotent)."""
    driver: Any = connection.connection.driver_connection
    driver.create_function(SQLITE_DIGITS, 1, _ascii_digits, deterministic=True)
