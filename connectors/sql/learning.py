"""Learning a table's column profiles, the patterns computed by the database.

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
learnt by one statement (a ``UNION ALL`` of one grouping per column). On PostgreSQL
each part groups the table by the column's value and describes each distinct value in
the same step, so that the parts run side by side, one process each, under one
``Gather`` (``Parallel Append``); ``GROUPING SETS`` is never parallel, and a
``DISTINCT`` subquery per column is planned, on a large table, as a parallel grouping
of each column in turn (every worker hashing every value, the leader merging their
tables and describing the values alone: a fifth slower on 5,000,000 call records).

SQLite has no ``translate``: a registered function (:func:`masked`) writes each value
with its digits as 0 except the kept ones, which stands for both, once per row of a
smaller table (SQLite computes the select list before DISTINCT; a sort of the values
first costs more than it saves) and once per distinct value of a larger one.

Only ASCII digits are placeholders on every backend (PostgreSQL ``translate``,
MariaDB ``REGEXP_REPLACE('[0-9]')``, SQLite the registered function), as in
:meth:`ColumnProfile.add_text`: any other character, a fullwidth or Arabic-Indic
digit too, stays literal text in the layout and so reaches the same refusals.

Text columns (e-mail, IP, account, user name) are learnt the same way by a second
statement (:func:`learn_text_patterns`): for a value of ASCII characters the database
gives its surrounding white space, whether it holds an ``@`` and its case, and
Python rebuilds a value with those facts; a value with other characters (whose case
rules are Python's, not the database's) or with the characters of display forms and
domain-qualified names comes back itself.

A column the database cannot describe this way is read value by value as before
(:func:`connectors.sql.profile.learn_values`): columns of other types (``NUMERIC``,
``CHAR(n)``, whose text the cast changes; SQLite values stored as REAL or BLOB), and
every column on other backends.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.sql.halves import rowid_ends
from connectors.sql.profile import (
    _CASES,
    _WHITE,
    DIGIT_TYPES,
    MAX_SIDE,
    TEXT_TYPES,
    ColumnProfile,
    Unrenderable,
    _case_of,
    expression_indexed,
    learn_values,
)

#: SQLite has no translate(): per side (:data:`~connectors.sql.profile.DIGIT_TYPES`),
#: the function registered when needed that writes a value's digits as 0 except the
#: first (heads) or last (tails) MAX_SIDE (:func:`masked`)
SQLITE_MASKS = {side: f"discover_mask_{side}" for side in ("heads", "tails", "exact")}
#: and the function that names a text's case (:func:`_sqlite_case`)
SQLITE_CASE = "discover_case"
_NOT_DIGIT = re.compile("[^0-9]")
#: SQLite: a table of this many rowids and more groups a digit column's values before
#: describing them (:func:`_sqlite_patterns`)
GROUP_FROM = 250_000
#: PostgreSQL: memory for the distinct values while learning (when less is configured)
WORK_MEM = "32MB"
_DIGITS = "0123456789"
_TO_ZERO = str.maketrans(_DIGITS, "0" * len(_DIGITS))
_BYTES_TO_ZERO = bytes.maketrans(_DIGITS.encode(), b"0" * len(_DIGITS))
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
    texts = [c for c, p in profiles.items() if p.refused is None and p.kind in TEXT_TYPES]
    done |= learn_text_patterns(connection, clause, {c: profiles[c] for c in texts}, schema)
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
    names, declared = _described(connection, clause, list(profiles), schema)
    if not names:
        return set()
    grouped = True
    if backend == "sqlite":
        register_sqlite_functions(connection)
        grouped = _many_rows(connection, clause)
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
        _patterns(backend, clause.c[name], index, DIGIT_TYPES[profiles[name].kind], grouped)
        for index, name in enumerate(names)
    ]
    statement: sa.Select | sa.CompoundSelect = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    if backend == "postgresql":
        # each part gives one row per distinct value: the combinations once here
        values = statement.subquery()
        statement = sa.select(*values.c).group_by(*values.c)
    found: dict[str, list[tuple[bool, str, str]]] = defaultdict(list)
    unreadable: set[str] = set()
    for index, stored, layout, side in connection.execute(statement):
        name = names[index]
        kind = declared.get(name) if declared else _TYPES[backend].get(str(stored))
        if kind is None or layout is None:
            unreadable.add(name)
            continue
        if backend == "sqlite":  # the masked value (_patterns)
            layout, side = _unmasked(layout, DIGIT_TYPES[profiles[name].kind])
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


def _described(
    connection: Connection, clause: sa.TableClause, names: list[str], schema: str | None
) -> tuple[list[str], dict[str, str | None]]:
    """The columns the database can describe, and on MariaDB/MySQL their declared
    "text" or "number" type (elsewhere each value's type is asked for)."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return names, {}
    if not _has_regexp_replace(connection):
        return [], {}
    declared = _mysql_types(connection, clause.name, schema, names)
    return [name for name in names if declared.get(name) is not None], declared


def learn_text_patterns(
    connection: Connection,
    clause: sa.TableClause,
    profiles: dict[str, ColumnProfile],
    schema: str | None,
) -> set[str]:
    """Learn the text ``profiles`` (e-mail, IP, account, user name) from the facts the
    database computes, in one statement; returns the columns learnt.

    A value of ASCII characters without ``<``, ``>`` or ``\\`` is described by the
    database: its surrounding white space, whether it is blank, whether it holds an
    ``@`` and which of the cases (:data:`~connectors.sql.profile._CASES`, in their
    order) writes it. For ASCII text the database's lower and upper are Python's (its
    ``C``/binary collation, named explicitly: a column's own collation may fold
    case or ignore trailing blanks), and title case and capitalisation are tested
    letter by letter. Each combination comes back once; Python rebuilds a value with
    those facts and feeds it to :meth:`ColumnProfile.add_text`. Any other value
    (non-ASCII, whose case rules are Python's; the characters of display forms and
    domain-qualified names) comes back itself, once per distinct value, and is taken
    as read. So the profile is the one every value gives, the rules applied in one
    place, while only the few odd values travel.
    """
    backend = connection.dialect.name
    if not profiles or backend not in ("postgresql", "sqlite", "mysql", "mariadb"):
        return set()
    if backend != "sqlite" and any(case not in _SQL_CASES for case in _CASES):
        return set()  # a case the database cannot test: read the values
    names, declared = _described(connection, clause, list(profiles), schema)
    if not names:
        return set()
    if backend == "sqlite":
        register_sqlite_functions(connection)
    parts = [_text_facts(backend, clause.c[name], index) for index, name in enumerate(names)]
    statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    learnt = {name: ColumnProfile(profiles[name].kind) for name in names}
    unreadable: set[str] = set()
    for index, stored, raw, lead, trail, blank, at, case in connection.execute(statement):
        name = names[index]
        kind = declared.get(name) if declared else _TYPES[backend].get(str(stored))
        if kind is None:
            unreadable.add(name)
            continue
        learnt[name].add_text(kind == "number", text_example(raw, lead, trail, blank, at, case))
    for name, profile in learnt.items():
        if name not in unreadable:
            profiles[name].refused, profiles[name].cases = profile.refused, profile.cases
    return set(names) - unreadable


def _decoded(value: object) -> str:
    """Text as returned: MariaDB's binary strings (told apart by bytes) are UTF-8."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8")
    return "" if value is None else str(value)


#: the text a value is rebuilt from, without and with an @: each case of _CASES writes
#: it in a form classified as that case (not an earlier one), and "aA" in no case
_TEXT_BASES = ("aa.aa", "aa.aa@aa.aa")
#: the cases PostgreSQL and MariaDB test (:func:`_case_tests`; SQLite asks Python);
#: another one in _CASES: values are read
_SQL_CASES = ("lower", "upper", "title", "capitalized")


def text_example(
    raw: object, lead: object, trail: object, blank: object, at: object, case: object
) -> str:
    """A value with the facts :func:`text_fact_columns` gives: the odd value itself,
    else one with that surrounding white space, blankness, ``@`` and case (None: a
    case none of _CASES writes)."""
    if raw is not None:
        return _decoded(raw)
    if blank:
        return _decoded(lead)  # white space only: the whole value
    base = _TEXT_BASES[bool(at)]
    core = _CASES[str(case)](base) if case is not None else "aA" + base[2:]
    return _decoded(lead) + core + _decoded(trail)


def _case_tests(backend: str, text: Any, white: Any) -> dict[str, Any]:
    """PostgreSQL, MariaDB/MySQL: per case name, the predicate that ``_CASES[name]``
    writes the ASCII ``text``'s core (white space stripped) from its lower-cased form
    (only whether, not which first: the CASE takes them in order).

    Tested on the whole text: white space is no letter, so lower, upper and title
    case hold for the text when they hold for its core. Title case (``str.title``): no
    letter follows a letter in upper case, and none follows the start or a non-letter
    in lower case. Capitalised (``str.capitalize``): the core's first character is no
    lower-case letter, no later one an upper-case letter. Patterns are case-sensitive
    (PostgreSQL's ``~`` in the C collation; MariaDB's REGEXP told so).
    """
    cases = {"lower": text == sa.func.lower(text), "upper": text == sa.func.upper(text)}
    wrong_title = "[A-Za-z][A-Z]|(^|[^A-Za-z])[a-z]"
    capitalized = f"^[{_WHITE}]*[^a-z{_WHITE}][^A-Z]*"
    if backend == "postgresql":
        cases["title"] = text.op("!~", is_comparison=True)(wrong_title)
        cases["capitalized"] = text.op("~", is_comparison=True)(capitalized + "$")
    else:
        cases["title"] = sa.not_(text.op("REGEXP", is_comparison=True)("(?-i)" + wrong_title))
        cases["capitalized"] = text.op("REGEXP", is_comparison=True)("(?-i)" + capitalized + "\\z")
    return cases


def _sqlite_case_column(text: Any) -> Any:
    """SQLite: the case name of the ASCII ``text``. All lower or all upper case (most
    values) is told by the database; any other value is named by :data:`SQLITE_CASE`,
    Python's own rules (:func:`~connectors.sql.profile._case_of`), one call for such a
    value where three ``GLOB`` patterns cost twice as much."""
    if list(_CASES)[:2] != ["lower", "upper"]:  # the database's tests would not come first
        return getattr(sa.func, SQLITE_CASE)(text)
    return sa.case(
        (text == sa.func.lower(text), sa.literal_column("'lower'")),
        (text == sa.func.upper(text), sa.literal_column("'upper'")),
        else_=getattr(sa.func, SQLITE_CASE)(text),
    )


def _white_around(text: Any, white: Any) -> tuple[Any, Any]:
    """SQLite, PostgreSQL: the leading and trailing white space of ``text`` (most
    values have none: then no substring is taken)."""
    left, right = sa.func.ltrim(text, white), sa.func.rtrim(text, white)
    width = sa.func.length(text) - sa.func.length(left)
    lead = sa.case((left == text, ""), else_=sa.func.substr(text, 1, width))
    trail = sa.case((right == text, ""), else_=sa.func.substr(text, sa.func.length(right) + 1))
    return lead, trail


def _text_facts(backend: str, column: sa.ColumnClause, index: int) -> sa.Select:
    """One text column's distinct (stored type, odd value or NULL, leading and trailing
    white space, blank, holds @, case)."""
    facts = text_fact_columns(backend, column)
    return (
        sa.select(sa.literal_column(str(index)).label("c"), *facts)
        .where(column.is_not(None))
        .distinct()
    )


def text_fact_columns(backend: str, column: Any) -> list[Any]:
    """What the database says of each value of ``column``: (stored type, the value when
    it is odd else NULL, leading white space, trailing white space, blank, holds @,
    case name or NULL); see :func:`learn_text_patterns`, and :func:`text_example` for
    the value rebuilt from them. On SQLite the statement calls a function of
    :func:`register_sqlite_functions`."""
    white = sa.literal(_WHITE)
    if backend == "postgresql":
        stored: Any = sa.cast(sa.func.pg_typeof(column), sa.Text)
        text: Any = sa.cast(column, sa.Text).collate("C")
        # ASCII without < > \ (and no NUL, which PostgreSQL text never holds)
        plain: Any = text.op("~", is_comparison=True)(
            sa.literal(r"^[\x01-\x3b\x3d\x3f-\x5b\x5d-\x7f]*$")
        )
        lead, trail = _white_around(text, white)
        blank: Any = text.op("!~", is_comparison=True)(f"[^{_WHITE}]")
        at: Any = sa.func.strpos(text, "@") > 0
    elif backend == "sqlite":
        stored = sa.func.typeof(column)
        text = sa.cast(column, sa.Text).collate("BINARY")
        # characters = bytes: ASCII (and no NUL, where length() stops counting)
        plain = sa.and_(
            sa.func.length(text) == sa.func.length(sa.cast(text, sa.LargeBinary)),
            *(sa.func.instr(text, odd) == 0 for odd in "<>\\"),
        )
        lead, trail = _white_around(text, white)
        blank = sa.func.ltrim(text, white) == ""
        at = sa.func.instr(text, "@") > 0
    else:
        from sqlalchemy.dialects import mysql  # MariaDB/MySQL only: not loaded for the others

        stored = sa.literal_column("''")
        text = sa.cast(column, mysql.CHAR(charset="utf8mb4")).collate("utf8mb4_bin")
        # characters = bytes in UTF-8: ASCII
        plain = sa.and_(
            sa.func.char_length(text) == sa.func.octet_length(text),
            *(sa.func.locate(odd, text) == 0 for odd in "<>\\"),
        )
        spaces = "[" + _WHITE + "]+"
        lead = sa.func.coalesce(sa.func.regexp_substr(text, "^" + spaces), "")
        trail = sa.func.coalesce(sa.func.regexp_substr(text, spaces + "\\z"), "")
        blank = sa.not_(text.op("REGEXP", is_comparison=True)(f"[^{_WHITE}]"))
        at = sa.func.locate("@", text) > 0
    if backend == "sqlite":
        case = _sqlite_case_column(text)
    else:
        tests = _case_tests(backend, text, white)
        case = sa.case(
            *((tests[name], sa.literal_column(f"'{name}'")) for name in _CASES), else_=sa.null()
        )
    raw = sa.case((plain, sa.null()), else_=text)
    if backend in ("mysql", "mariadb"):
        # told apart by bytes: the collation would equate spellings (trailing blanks)
        raw, lead, trail = (sa.cast(x, sa.LargeBinary) for x in (raw, lead, trail))
    return [
        stored.label("t"),
        raw.label("r"),
        lead.label("l"),
        trail.label("w"),
        blank.label("b"),
        at.label("a"),
        case.label("k"),
    ]


def _example(layout: str, digits: str, side: str) -> str:
    """A value with ``layout`` (ASCII digits written as 0) whose first (heads) or last
    (tails) digits are ``digits``; the others, which no profile keeps, are zeros."""
    parts = layout.split("0")
    pad = "0" * (len(parts) - 1 - len(digits))
    filled = digits + pad if side == "heads" else pad + digits
    return "".join(p + d for p, d in zip(parts, filled, strict=False)) + parts[-1]


def _patterns(
    backend: str, column: sa.ColumnClause, index: int, side: str, grouped: bool = True
) -> sa.Select:
    """One column's (stored type, layout, leading/trailing digits): each combination
    once, except on PostgreSQL, where the part gives one row per distinct value and
    :func:`learn_digit_patterns` groups the parts' rows.

    On PostgreSQL the part is a single grouping of the table by the value, each
    distinct value described in the same step. Such a part runs whole in one process,
    and the parts of several columns side by side under one ``Gather`` (``Parallel
    Append``): each column's values hashed once, where a parallel grouping of each
    column in turn hashes every value in every worker, merges the workers' tables
    again and describes the values in the leader alone.
    """
    present = column.is_not(None)
    column_index = sa.literal_column(str(index))
    if backend == "postgresql":
        stored, layout, kept = _value_facts(backend, column, side)
        return (
            sa.select(
                column_index.label("c"), stored.label("t"), layout.label("l"), kept.label("s")
            )
            .where(present)
            .group_by(column)
        )
    if backend == "sqlite":
        return _sqlite_patterns(column, column_index, side, grouped)
    # MariaDB/MySQL: the column's collation may equate values that differ in case or
    # trailing blanks; every stored spelling is wanted, so values are told apart by bytes
    values = (
        sa.select(sa.func.min(column).label("v"))
        .where(present)
        .group_by(sa.cast(column, sa.LargeBinary))
        .subquery()
    )
    stored, layout, kept = _value_facts(backend, values.c.v, side)
    varying = [] if side == "exact" else [kept]  # a constant is no grouping
    # grouped by bytes, like the values above
    grouped = sa.select(
        column_index.label("c"),
        stored.label("t"),
        sa.func.min(layout).label("l"),
        kept.label("s"),
    ).group_by(sa.cast(layout, sa.LargeBinary), *varying)
    return grouped.select_from(values)


def _sqlite_patterns(column: Any, column_index: Any, side: str, grouped: bool) -> sa.Select:
    """SQLite: one column's distinct (stored type, :func:`masked` value).

    SQLite evaluates a select list row by row, before DISTINCT, so the function is
    called once per row; in a table of many rows (``grouped``), where values repeat
    (a call record's numbers), once per distinct value of a grouping first, told
    apart by bytes (the column's collation may equate spellings; a number and a text
    are never equal): 5,000,000 call records of 100,000 numbers in 2.1 s against 4.0 s
    a call per row. In a smaller table the sort costs more than it saves (100,000
    contacts, three quarters of the numbers distinct: 0.10 s against 0.08 s per column).
    """
    values: Any = column
    source: Any = None
    if grouped:
        source = (
            sa.select(column.label("v"))
            .where(column.is_not(None))
            .group_by(column.collate("BINARY"))
            .subquery()
        )
        values = source.c.v
    statement = sa.select(
        column_index.label("c"),
        sa.func.typeof(values).label("t"),
        getattr(sa.func, SQLITE_MASKS[side])(values).label("l"),
        sa.null().label("s"),
    ).distinct()
    if source is None:
        return statement.where(column.is_not(None))
    return statement.select_from(source)


def _many_rows(connection: Connection, clause: sa.TableClause) -> bool:
    """SQLite: whether ``clause`` spans :data:`GROUP_FROM` rowids or more (one without
    real rowids, a view: taken as many)."""
    ends = rowid_ends(connection, clause)
    if ends is None:
        empty = sa.select(sa.literal(1)).select_from(clause).limit(1)
        return connection.execute(empty).first() is not None
    return ends[1] - ends[0] >= GROUP_FROM


def _value_facts(backend: str, value: Any, side: str) -> tuple[Any, Any, Any]:
    """PostgreSQL, MariaDB/MySQL: a value's stored type, layout (ASCII digits written
    as 0) and first (heads) or last (tails) :data:`~connectors.sql.profile.MAX_SIDE`
    ASCII digits."""
    text = sa.cast(value, sa.String if backend in ("mysql", "mariadb") else sa.Text)
    # constants as SQL literals: GROUP BY repeats the expressions, which bound
    # parameters would make different ones
    ascii_digits, zeros, empty = (sa.literal_column(f"'{c}'") for c in (_DIGITS, "0" * 10, ""))
    if backend == "postgresql":
        stored: Any = sa.cast(sa.func.pg_typeof(value), sa.Text)
        layout: Any = sa.func.translate(text, ascii_digits, zeros)
        digits: Any = sa.func.translate(text, sa.func.translate(text, ascii_digits, empty), empty)
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
        kept = sa.func.right(digits, width)
    else:
        kept = empty
    return stored, layout, kept


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


def masked(value: object, side: str) -> bytes | None:
    """``value``'s text (UTF-8) with its ASCII digits written as 0, except its first
    (heads) or last (tails) :data:`~connectors.sql.profile.MAX_SIDE` (exact: all).

    This is all a digit profile keeps of a value (:func:`_example` writes the same from
    its layout and kept digits), in one string: SQLite returns each distinct one. The
    function is called once per value, so it is kept to a few operations on bytes
    (ASCII digits are single bytes in UTF-8, never part of another character's): a
    ``translate`` and a ``split``, half the time of ``str.translate``; a regular
    expression, or ten nested ``replace()`` in SQL, cost about twice as much.
    """
    return _MASKS[side](value)


def _utf8(value: object) -> bytes:
    return (value if isinstance(value, str) else str(value)).encode()


def _mask_heads(value: object) -> bytes | None:
    if value is None:
        return None
    text = _utf8(value)
    layout = text.translate(_BYTES_TO_ZERO)
    rest = layout.split(b"0", MAX_SIDE)
    if len(rest) <= MAX_SIDE:
        return text  # no more digits than are kept
    cut = len(layout) - len(rest[-1])  # just after the last digit kept
    return text[:cut] + layout[cut:]


def _mask_tails(value: object) -> bytes | None:
    if value is None:
        return None
    text = _utf8(value)
    layout = text.translate(_BYTES_TO_ZERO)
    rest = layout.rsplit(b"0", MAX_SIDE)
    if len(rest) <= MAX_SIDE:
        return text
    cut = len(rest[0])  # at the first digit kept
    return layout[:cut] + text[cut:]


def _mask_exact(value: object) -> bytes | None:
    return None if value is None else _utf8(value).translate(_BYTES_TO_ZERO)


_MASKS = {"heads": _mask_heads, "tails": _mask_tails, "exact": _mask_exact}


def _unmasked(value: object, side: str) -> tuple[str, str]:
    """The layout and kept digits of a :func:`masked` value."""
    text = _decoded(value)
    digits = _NOT_DIGIT.sub("", text)
    kept = digits[:MAX_SIDE] if side == "heads" else digits[-MAX_SIDE:] if side == "tails" else ""
    return text.translate(_TO_ZERO), kept


def _sqlite_case(value: object) -> str | None:
    """Which of :data:`~connectors.sql.profile._CASES` writes the text's core (white
    space stripped) from its lower-cased form; None: none does."""
    if value is None:
        return None
    try:
        return _case_of(str(value).strip(_WHITE))
    except Unrenderable:
        return None


def register_sqlite_functions(connection: Connection) -> None:
    """Register :data:`SQLITE_MASKS` and :data:`SQLITE_CASE` on this SQLite connection
    (idempotent)."""
    driver: Any = connection.connection.driver_connection
    for side, name in SQLITE_MASKS.items():
        driver.create_function(name, 1, _MASKS[side], deterministic=True)
    driver.create_function(SQLITE_CASE, 1, _sqlite_case, deterministic=True)
