"""Learning profiles inside the database gives the profile the values themselves give.

The database computes each distinct value's layout and leading/trailing digits and
returns every combination once (:mod:`connectors.sql.learning`). A profile that missed
a pattern would miss a subject's record, so on every backend the profile learnt that
way is compared with the profile of every stored value taken one by one in Python,
on values made to catch a difference: white space around and inside, display forms,
empty strings and NULLs, fullwidth and Arabic-Indic digits, very long values, numbers
stored as numbers, and more distinct leading digits than a profile keeps.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sql_support import connector, create, profile_from_values, writer

from connectors.sql import learning
from connectors.sql.learning import _example, _unmasked, learn, masked
from connectors.sql.profile import MAX_SIDE, ColumnProfile, learn_values

#: column -> (identifier type, SQL type, the stored values)
FULLWIDTH = "\uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"  # ０６１２…
ARABIC = "\u0660\u0666"  # ٠٦
COLUMNS: dict[str, tuple[str, Any, list[Any]]] = {
    "phone_text": (
        "phone",
        sa.String(600),
        [
            "0612345678",
            " 0612345678",
            "0612345678 ",
            "\t+31 6 1234 5678\n",
            "+31 (0)6-1234.5678",
            "0031 6 2000 0001",
            "06-2000 0002",
            "",
            "   ",
            "onbekend",
            "n/a",
            FULLWIDTH,  # no ASCII digit: never selected, so no pattern
            "06" + FULLWIDTH[2:] + " ext",
            "1" * 500,  # very long
            "31612345678",
            "9",
            "+9",
        ],
    ),
    "phone_number": ("phone", sa.BigInteger, [31612345678, 31620000001, 4930123456, 7, -5]),
    # NUMERIC: read value by value on PostgreSQL and MariaDB (the cast to text may
    # write a scale), by the database on SQLite (stored as INTEGER there)
    "phone_decimal": ("phone", sa.Numeric(20, 0), [31612345678, 4930123456, 7]),
    "phone_arabic": ("phone", sa.String(60), ["06-2000 0001", ARABIC + "12345678"]),
    "phone_private": ("phone", sa.String(60), ["06-2000 0001", "06\ue0002000 0001"]),
    "phone_long_text": ("phone", sa.String(200), ["-" * 60 + "0612345678"]),
    "phone_many": (
        "phone",
        sa.String(20),
        # 9,000 different 4-digit beginnings: the sets stop at a length
        [f"{n:04d}{n:07d}" for n in range(1000, 10000)] + ["+31 6 20000001"],
    ),
    "imei": (
        "imei",
        sa.String(40),
        ["35-209900-176148-1", "3520990017614801", " 35 209900 176148 1", "49-015420-323751-8"],
    ),
    "iccid": ("iccid", sa.String(40), ["8931041012345678902F", "8931 0410 1234 5678 902"]),
    "imsi": ("imsi", sa.String(40), ["204 04 1234567890", "204041234567890", "x204041234567890"]),
    "email": (
        "email",
        sa.String(100),
        ["jan@example.nl", " JAN@EXAMPLE.NL ", "Jan@Example.nl", "Jan <jan@example.nl>"],
    ),
}
ROWS = max(len(values) for _, _, values in COLUMNS.values())


def _table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "tricky",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(sa.Column(name, kind) for name, (_, kind, _) in COLUMNS.items()),
    )


def _rows() -> list[dict[str, Any]]:
    rows = []
    for index in range(ROWS):
        row: dict[str, Any] = {"id": index + 1}
        for name, (_, _, values) in COLUMNS.items():
            # every value, some twice, and NULLs where a column has run out
            row[name] = values[index] if index < len(values) else None
        rows.append(row)
    rows += [
        {"id": ROWS + 1 + i, **{name: v[2][0] for name, v in COLUMNS.items()}} for i in range(3)
    ]
    return rows


def _summary(profile: ColumnProfile) -> tuple[bool, list[str], list[list[Any]]]:
    """What a search uses of a profile: whether it may, and its patterns (any order)."""
    data = profile.to_json()
    return data["refused"] is None, sorted(map(repr, data["shapes"])), data["cases"]


@pytest.fixture
def tricky_url(database_url: str) -> str:
    metadata = sa.MetaData()
    _table(metadata)
    create(database_url, metadata, {"tricky": _rows()})
    return database_url


def _learn(url: str) -> tuple[list[tuple[str, Any]], dict[str, ColumnProfile], dict[str, Any]]:
    columns: dict[str, Any] = {"id": None}
    columns.update({name: {"identifier": kind} for name, (kind, _, _) in COLUMNS.items()})
    tables = {"tricky": {"key": "id", "category": "usage.calls", "columns": columns}}
    source = connector(url, {"tables": tables})
    clause = sa.table("tricky", *map(sa.column, ["id", *COLUMNS]))
    seen: list[tuple[str, Any]] = []
    sa.event.listen(
        source.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, parameters, *_: seen.append((statement, parameters)),
    )
    with source.engine.connect() as connection:
        key_max, profiles = learn(
            connection, clause, {name: kind for name, (kind, _, _) in COLUMNS.items()}, "id"
        )
        old = {}
        for name, (kind, _, _) in COLUMNS.items():
            old[name] = ColumnProfile(kind)
            learn_values(connection, clause, name, old[name])
    assert key_max == ROWS + 3
    return seen, profiles, old


def test_the_database_learns_the_profile_the_values_give(tricky_url: str) -> None:
    _, profiles, old = _learn(tricky_url)
    for name, (kind, _, values) in COLUMNS.items():
        expected = _summary(profile_from_values(kind, values))
        assert _summary(profiles[name]) == expected, name
        if not tricky_url.startswith("mysql"):
            # MariaDB's DISTINCT follows the column's collation (case, trailing blanks)
            assert _summary(old[name]) == expected, name


def test_the_cases_that_matter_are_in_the_data(tricky_url: str) -> None:
    """The comparison above means something only if the data reaches every rule."""
    _, profiles, _ = _learn(tricky_url)
    for name in ("phone_arabic", "phone_private", "phone_long_text", "email"):
        assert profiles[name].refused, name
    assert "letters" in (profiles["phone_arabic"].refused or "")
    assert "private-use" in (profiles["phone_private"].refused or "")
    for name in ("phone_text", "phone_number", "phone_many", "imei", "iccid", "imsi"):
        assert profiles[name].refused is None, name
    layouts = {"".join(s.parts) for s in profiles["phone_text"].shapes.values()}
    assert {" ", "\t+   \n", "+ ()-."} <= layouts  # white space and punctuation kept
    assert any(s.number for s in profiles["phone_number"].shapes.values())
    many = next(s for s in profiles["phone_many"].shapes.values() if not "".join(s.parts))
    assert 0 < many.limit < 5  # more distinct beginnings than kept, for longer lengths


def test_digit_columns_are_learnt_in_one_statement_without_reading_values(
    tricky_url: str,
) -> None:
    seen, _, _ = _learn(tricky_url)
    learning = [s for s, _ in seen if "UNION ALL" in s]
    assert len(learning) == 1
    assert "tricky.email" not in learning[0]
    # the text column: described by a statement of its own, then (the comparison in
    # _learn) read value by value
    assert sum("tricky.email" in s and "DISTINCT" in s for s, _ in seen) == 2
    assert sum("SELECT DISTINCT tricky.email" in s for s, _ in seen) == 1


def test_postgresql_learns_the_digit_columns_side_by_side_in_one_pass_each(
    postgres_url: str,
) -> None:
    """On PostgreSQL each digit column is one grouping of the table, and the columns'
    groupings run side by side under one Gather (Parallel Append): one scan per
    column, the values hashed once, not a parallel grouping of each column in turn
    (an Append of one Gather per column)."""
    with sa.create_engine(postgres_url).begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE calls AS SELECT n AS id, "
                "'316' || (10000000 + n % 40000)::text AS calling, "
                "'06-' || (20000000 + n % 30000)::text AS called "
                "FROM generate_series(1, 400000) AS n"
            )
        )
        connection.execute(sa.text("ANALYZE calls"))
    clause = sa.table("calls", sa.column("id"), sa.column("calling"), sa.column("called"))
    columns = {"id": None, "calling": {"identifier": "phone"}, "called": {"identifier": "phone"}}
    tables = {"calls": {"key": "id", "category": "usage.calls", "columns": columns}}
    source = connector(postgres_url, {"tables": tables})
    seen: list[tuple[str, Any]] = []
    sa.event.listen(
        source.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, parameters, *_: seen.append((statement, parameters)),
    )
    try:
        with source.engine.connect() as connection:
            _, profiles = learn(connection, clause, {"calling": "phone", "called": "phone"}, "id")
            statement, parameters = next((s, p) for s, p in seen if "UNION ALL" in s)
            plan = "\n".join(
                row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
    finally:
        source.close()
    assert {"".join(s.parts) for s in profiles["calling"].shapes.values()} == {""}
    assert {"".join(s.parts) for s in profiles["called"].shapes.values()} == {"-"}
    # each column grouped by its value, described in the same step: a part that
    # runs whole in one process (a DISTINCT subquery below it is planned as a
    # parallel grouping of its own once the table is large: 5,000,000 rows)
    assert "DISTINCT" not in statement
    assert "GROUP BY calls.calling UNION ALL" in statement
    assert "Parallel Append" in plan, plan
    assert plan.count("Gather") == 1, plan
    assert plan.count("Seq Scan on calls") == 2, plan


#: awkward values for the SQLite masks: spellings, white space, non-ASCII digits and
#: letters, case, blanks, numbers, fewer digits than are kept, very long
AWKWARD: list[Any] = [
    "0612345678",
    "+31 6 1234 5678",
    "\t(06) 1234-5678 \n",
    "0031612345678",
    "06" + FULLWIDTH[2:],
    ARABIC + "12345678",
    "Tel: 06 1234 5678",
    "tel:06-12345678",
    "É06123456789",
    "06\ue0002000 0001",
    "",
    "   ",
    "1",
    "1234",
    "12345",
    "123456",
    "1" * 500,
    31612345678,
    -5,
    0,
]


@pytest.mark.parametrize("side", ["heads", "tails", "exact"])
def test_sqlite_mask_is_the_value_rebuilt_from_its_layout_and_kept_digits(side: str) -> None:
    """What SQLite returns per value (:func:`masked`) is what :func:`_example` writes
    from the value's layout and kept digits, and gives them back."""
    for value in AWKWARD:
        text = str(value)
        layout = re.sub("[0-9]", "0", text)
        digits = re.sub("[^0-9]", "", text)
        kept = {"heads": digits[:MAX_SIDE], "tails": digits[-MAX_SIDE:], "exact": ""}[side]
        mask = masked(value, side)
        assert mask is not None
        assert mask.decode() == _example(layout, kept, side), (value, side)
        assert _unmasked(mask, side) == (layout, kept), (value, side)
    assert masked(None, side) is None


def _sqlite_learn(
    url: str, table: str, columns: dict[str, str]
) -> tuple[list[str], dict[str, Any]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, s, *_: seen.append(s))
    clause = sa.table(table, *map(sa.column, ["id", *columns]))
    try:
        with engine.connect() as connection:
            _, profiles = learn(connection, clause, columns, "id")
    finally:
        engine.dispose()
    return seen, profiles


@pytest.mark.parametrize("group_from", [learning.GROUP_FROM, 0])
def test_sqlite_digit_columns_one_pass_each_masked_per_row_or_per_distinct_value(
    sqlite_url: str, group_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a table of fewer than GROUP_FROM rowids has each row's value masked by
    one function call (SQLite computes the select list before DISTINCT: no grouping
    first, no other function); a larger one groups the values by bytes first. Either
    way the profile is the one the values give."""
    monkeypatch.setattr(learning, "GROUP_FROM", group_from)
    metadata = sa.MetaData()
    _table(metadata)
    create(sqlite_url, metadata, {"tricky": _rows()})
    digits = {name: kind for name, (kind, _, _) in COLUMNS.items() if kind != "email"}
    seen, profiles = _sqlite_learn(sqlite_url, "tricky", digits)
    for name, kind in digits.items():
        expected = _summary(profile_from_values(kind, COLUMNS[name][2]))
        assert _summary(profiles[name]) == expected, name
    (statement,) = [s for s in seen if "UNION ALL" in s]
    assert statement.count("discover_mask_") == len(digits)
    assert "discover_ascii" not in statement and "DISTINCT tricky." not in statement
    if group_from:
        assert "GROUP BY" not in statement
        assert statement.count("FROM tricky") == len(digits)
    else:
        assert statement.count('COLLATE "BINARY") AS anon_') == len(digits)
    # every column described by the database: none read value by value
    assert not [s for s in seen if "SELECT DISTINCT tricky." in s]


@pytest.mark.parametrize("group_from", [learning.GROUP_FROM, 0])
@pytest.mark.parametrize("collation", ["RTRIM", "NOCASE"])
def test_sqlite_a_column_collation_equates_no_spellings_in_the_profile(
    sqlite_url: str, collation: str, group_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column declared COLLATE RTRIM or NOCASE equates values that differ in trailing
    blanks or case; the profile still has every stored spelling (a DISTINCT of the
    column, which follows its collation, kept one of them)."""
    monkeypatch.setattr(learning, "GROUP_FROM", group_from)
    values = {
        "phone": ["0612345678", "0612345678 ", "0612345678\t", "06-12345678"],
        "imsi": ["204041234567890", "204041234567890  ", "x204041234567890"],
        "email": ["jan@example.nl", "JAN@EXAMPLE.NL", "Jan@Example.Nl", "jan@example.nl "],
    }
    rows = max(map(len, values.values()))
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE collated (id INTEGER PRIMARY KEY, "
            + ", ".join(f"{name} TEXT COLLATE {collation}" for name in values)
            + ")"
        )
        for index in range(rows):
            connection.exec_driver_sql(
                "INSERT INTO collated VALUES (?, ?, ?, ?)",
                (index + 1, *(v[index] if index < len(v) else None for v in values.values())),
            )
    _, profiles = _sqlite_learn(sqlite_url, "collated", {name: name for name in values})
    for name, stored in values.items():
        expected = _summary(profile_from_values(name, stored))
        assert _summary(profiles[name]) == expected, name
    # the spellings a DISTINCT of the column would have merged
    assert len(profiles["phone"].shapes) == 4
    assert len(profiles["email"].cases) == 4
