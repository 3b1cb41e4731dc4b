"""Text columns learnt inside the database give the profile every value gives.

E-mail, IP, account and user-name columns are described by the database: for a value
of ASCII characters its surrounding white space, whether it holds an ``@`` and its
case; any other value comes back itself (:func:`connectors.sql.learning.learn_text_patterns`).
A profile that missed a case would miss a subject's record, and one that missed a
refusal would search a column it cannot spell, so on every backend the result is
compared with the profile of every stored value taken one by one in Python: per
column over tricky sets (non-ASCII letters whose case Python and the database fold
differently, white space, display forms, values without ``@``, blanks, NULLs), and
per value over random strings of such characters.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa
from sql_support import create, profile_from_values, writer

from connectors.sql.learning import (
    learn,
    register_sqlite_functions,
    text_example,
    text_fact_columns,
)
from connectors.sql.profile import _CASES, TEXT_TYPES, ColumnProfile, learn_values

#: column -> (identifier type, the stored values); None: NULL
COLUMNS: dict[str, tuple[str, list[Any]]] = {
    # every case, white space around, non-ASCII, values without @ in any case
    "email_cases": (
        "email",
        [
            "jan@example.nl",
            "JAN@EXAMPLE.NL",
            "Jan.Smit@Acme.Nl",
            "Jan.smit@acme.nl",
            " jan@example.nl",
            "jan@example.nl\t",
            "\r\n JAN@EXAMPLE.NL \n",
            "émile@exemple.fr",
            "ÉMILE@EXEMPLE.FR",
            "Émile.Zola@Exemple.Fr",
            "straße@beispiel.de",
            "ali@örnek.com.tr",
            "ılgın@örnek.tr",  # Turkish dotless i
            "a\\b@example.nl",  # a backslash is no domain in an e-mail address
            "123@456",
            "\x0bjan@example.nl",  # a vertical tab is not stripped
            "Onbekend Adres",  # no @: never a candidate, whatever its case
            "n.v.t. <geen>",
            "ÇOK@",
            "",
            "   ",
            "\t",
            None,
        ],
    ),
    "email_mixed": ("email", ["jan@example.nl", "Jan.DeVries@Example.NL"]),
    "email_mixed_accent": ("email", ["jan@example.nl", "éMILE@exemple.fr"]),
    # Python: "İ".lower() is "i̇" (two characters), whose title case is not "İ…"
    "email_dotted": ("email", ["jan@example.nl", "İlker@Örnek.Tr"]),
    "email_display": ("email", ["jan@example.nl", "Jan <jan@example.nl>"]),
    "email_display_wide": ("email", ["jan@example.nl", "Jan ＜jan@example.nl＞"]),
    "username_cases": (
        "username",
        ["jan", "JAN", "Jan", "Jan.Smit", " jan\t", "jan@acme", "<jan>", "ÉMILE", "", None],
    ),
    "username_domain": ("username", ["jan", "ACME\\jan"]),
    "account_cases": ("account", ["SRV-0001", "srv-0002", " SRV-0003", "Srv-4", "ÄÖ-1"]),
    "ip": ("ip", ["198.18.0.1", " 198.18.0.2", "2001:DB8::1", "2001:db8::2", "fe80::1%eth0"]),
    "ip_mixed": ("ip", ["198.18.0.1", "2001:dB8::1"]),
    # many white space patterns: more than a profile keeps
    "email_spread": ("email", [" " * n + "jan@example.nl" for n in range(70)]),
}
ROWS = max(len(values) for _, values in COLUMNS.values())


def _rows() -> list[dict[str, Any]]:
    rows = []
    for index in range(ROWS):
        row: dict[str, Any] = {"id": index + 1}
        for name, (_, values) in COLUMNS.items():
            row[name] = values[index] if index < len(values) else None
        rows.append(row)
    # some values twice
    rows += [{"id": ROWS + 1 + i, **{n: v[1][i] for n, v in COLUMNS.items()}} for i in range(2)]
    return rows


def _summary(profile: ColumnProfile) -> tuple[bool, list[list[Any]]]:
    """What a search uses of a text profile: whether it may, and its patterns."""
    data = profile.to_json()
    return data["refused"] is None, data["cases"]


def _texts(url: str) -> str:
    """The database at ``url`` with the table ``texts`` of every column's values."""
    metadata = sa.MetaData()
    sa.Table(
        "texts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(sa.Column(name, sa.String(200)) for name in COLUMNS),
    )
    create(url, metadata, {"texts": _rows()})
    return url


@pytest.fixture
def text_url(database_url: str) -> str:
    return _texts(database_url)


def _learn(
    url: str, columns: dict[str, str]
) -> tuple[dict[str, ColumnProfile], list[str], dict[str, ColumnProfile]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    clause = sa.table("texts", *map(sa.column, ["id", *columns]))
    seen: list[str] = []
    sa.event.listen(
        engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement)
    )
    try:
        with engine.connect() as connection:
            _, profiles = learn(connection, clause, columns, "id")
            statements = list(seen)
            read = {}
            for name, kind in columns.items():
                read[name] = ColumnProfile(kind)
                learn_values(connection, clause, name, read[name])
    finally:
        engine.dispose()
    return profiles, statements, read


def test_the_database_learns_the_text_profile_the_values_give(text_url: str) -> None:
    columns = {name: kind for name, (kind, _) in COLUMNS.items()}
    profiles, statements, read = _learn(text_url, columns)
    for name, (kind, values) in COLUMNS.items():
        expected = _summary(profile_from_values(kind, values))
        assert _summary(profiles[name]) == expected, name
        if not text_url.startswith("mysql"):
            # MariaDB's DISTINCT follows the column's collation (case, trailing blanks)
            assert _summary(read[name]) == expected, name
    # no value read one by one: one statement for all text columns
    assert not [s for s in statements if "DISTINCT texts." in s]


def test_the_cases_that_matter_are_in_the_data(text_url: str) -> None:
    """The comparison above means something only if the data reaches every rule."""
    columns = {name: kind for name, (kind, _) in COLUMNS.items()}
    profiles, _, _ = _learn(text_url, columns)
    cases = profiles["email_cases"].cases
    assert {case for *_, case in cases} == set(_CASES)
    assert (False, "\r\n ", " \n", "upper") in cases
    assert not any(lead == "\x0b" for _, lead, _, _ in cases)  # kept inside the value
    assert profiles["username_cases"].refused is None
    assert profiles["account_cases"].refused is None
    assert profiles["ip"].refused is None
    for name in ("email_mixed", "email_mixed_accent", "email_display", "username_domain"):
        assert profiles[name].refused, name
    assert "display" in (profiles["email_display"].refused or "")
    assert "domain" in (profiles["username_domain"].refused or "")
    assert "patterns" in (profiles["email_spread"].refused or "")
    for name in ("email_dotted", "ip_mixed"):
        assert profiles[name].refused, name
    # fullwidth brackets are no display form: the value is capitalised
    assert profiles["email_display_wide"].refused is None


def test_sqlite_names_a_mixed_case_by_python_not_by_patterns(sqlite_url: str) -> None:
    """SQLite tells all lower and all upper case itself; any other value's case is
    named by one call of Python's own rules (no GLOB patterns, each of which walks the
    value from every position)."""
    columns = {name: kind for name, (kind, _) in COLUMNS.items()}
    _, statements, _ = _learn(_texts(sqlite_url), columns)
    (statement,) = [s for s in statements if "texts.email_cases" in s]
    assert "GLOB" not in statement
    assert statement.count("THEN 'upper' ELSE discover_case(") == len(columns)


def test_a_refusing_value_anywhere_refuses_the_column(database_url: str) -> None:
    """Thousands of plain values, one odd value among them: still refused."""
    values = [f"user{n}@example.nl" for n in range(3000)]
    values.insert(1717, "User1717.X@Example.nl")
    metadata = sa.MetaData()
    sa.Table(
        "texts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("e", sa.String(60)),
    )
    create(database_url, metadata, {"texts": [{"id": i + 1, "e": v} for i, v in enumerate(values)]})
    profiles, _, _ = _learn(database_url, {"e": "email"})
    assert profiles["e"].refused == "mixed-case values"


#: characters a value is made of in the random test: every class the rules tell apart
ALPHABET = "aAbZz09.@-_' \t\n\r\x0b<>\\éÉßİıŉǅ"


def _random_values(count: int) -> list[str]:
    rng = random.Random(20261204)
    values = set()
    while len(values) < count:
        length = rng.choice((0, 1, 2, 3, 5, 8, 12))
        weights = [8 if ch.isascii() and ch.isalnum() else 1 for ch in ALPHABET]
        values.add("".join(rng.choices(ALPHABET, weights, k=length)))
    return sorted(values)


def _alone(kind: str, number: bool, text: str) -> tuple[str | None, list[list[Any]]]:
    profile = ColumnProfile(kind)
    profile.add_text(number, text)
    return profile.refused, profile.to_json()["cases"]


def test_each_value_is_described_as_python_sees_it(database_url: str) -> None:
    """Per value: the value rebuilt from the database's facts is classified as the
    value itself, for every text identifier type (random ASCII and non-ASCII text)."""
    values = _random_values(4000)
    metadata = sa.MetaData()
    table = sa.Table(
        "randoms",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("v", sa.String(40)),
    )
    create(
        database_url, metadata, {"randoms": [{"id": i + 1, "v": v} for i, v in enumerate(values)]}
    )
    with writer(database_url) as engine, engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            register_sqlite_functions(connection)
        facts = text_fact_columns(engine.dialect.name, table.c.v)
        rows = connection.execute(sa.select(table.c.id, *facts)).all()
    assert len(rows) == len(values)
    described = 0
    for key, _stored, *fact in rows:
        value = values[key - 1]
        example = text_example(*fact)
        described += fact[0] is None
        for kind in sorted(TEXT_TYPES):
            assert _alone(kind, False, example) == _alone(kind, False, value), (kind, value)
    assert described > len(values) // 3  # most values are described, not returned


def test_numbers_in_text_identifier_columns(database_url: str) -> None:
    """An account number stored as a number: the same patterns (numbers) as reading it."""
    metadata = sa.MetaData()
    sa.Table(
        "texts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.BigInteger),
        sa.Column("email", sa.BigInteger),
    )
    rows = [{"id": i + 1, "account": v, "email": v} for i, v in enumerate([123, -5, 7, None])]
    create(database_url, metadata, {"texts": rows})
    profiles, statements, read = _learn(database_url, {"account": "account", "email": "email"})
    assert profiles["account"].cases == {(True, "", "", "lower")}
    assert profiles["email"].refused is None and not profiles["email"].cases  # no @
    for name in ("account", "email"):
        assert _summary(profiles[name]) == _summary(read[name]), name
    assert not [s for s in statements if "SELECT DISTINCT texts." in s]


def test_sqlite_values_of_any_type_in_one_column(sqlite_url: str) -> None:
    """SQLite keeps each value's own type: integers and text side by side are described
    by the database; a REAL or a BLOB among them sends the column to be read value by
    value (which refuses it), as before."""
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE texts (id INTEGER PRIMARY KEY, mixed, floating, raw)"
        )
        connection.exec_driver_sql(
            "INSERT INTO texts VALUES (1, 12345, 'SRV-1', 'a'), (2, 'SRV-2', 3.5, X'41'), "
            "(3, ' srv-3', 'SRV-4', NULL)"
        )
    columns = {"mixed": "account", "floating": "account", "raw": "account"}
    profiles, statements, read = _learn(sqlite_url, columns)
    assert profiles["mixed"].cases == {
        (True, "", "", "lower"),
        (False, "", "", "upper"),
        (False, " ", "", "lower"),
    }
    assert profiles["floating"].refused == "values of type float"
    assert profiles["raw"].refused == "values of type bytes"
    for name in columns:
        assert _summary(profiles[name]) == _summary(read[name]), name
    # the columns with a REAL or a BLOB are read value by value; the other is not
    read_by_value = [s for s in statements if "SELECT DISTINCT texts." in s]
    assert len(read_by_value) == 2
    assert not [s for s in read_by_value if "mixed" in s]
