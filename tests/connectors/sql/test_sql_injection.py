"""Identifiers full of SQL and LIKE metacharacters never widen a search.

Property tests against the real SQLite, PostgreSQL and MariaDB: whatever the
identifier holds (``' OR '1'='1``, ``%``, ``_``, ``\\``, quotes, ``*`` …), the rows a
scan returns are exactly the rows whose stored value normalises to the identifier —
never one more (no widening), and for these spellings never one less.
"""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sql_support import connector, create, ident, keys, writer

from connectors.sql.connector import SqlConnector
from connectors.sql.predicates import name_words
from discover.errors import InvalidIdentifier
from discover.identifiers import Identifier, fold_text, try_normalise
from discover.request import build_request

META = "'%_\\\"*?[]()|;+=!#$&^~{}/.,<>-` "
NASTY = [
    "%",
    "_",
    "%%",
    "' OR '1'='1",
    "' OR 1=1 --",
    "\\",
    "\\%",
    '"',
    "*",
    "%@%",
    "_@_._",
    "'; DROP TABLE people; --",
    "a%",
    "%a",
]
COLUMNS = {"email": "email", "full_name": "name", "account": "account", "username": "username"}
PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def people(database_url: str) -> Iterator[tuple[str, SqlConnector]]:
    metadata = sa.MetaData()
    sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(sa.Column(name, sa.String(300)) for name in COLUMNS),
    )
    create(database_url, metadata, {})
    mapping = {
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {"id": None, **{c: {"identifier": k} for c, k in COLUMNS.items()}},
            }
        }
    }
    with connector(database_url, mapping) as source:
        yield database_url, source


def _store(url: str, column: str, values: list[str]) -> dict[int, str]:
    rows = dict(enumerate(values, start=1))
    with writer(url) as engine, engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM people"))
        if rows:
            table = sa.table("people", sa.column("id"), sa.column(column))
            connection.execute(
                table.insert(), [{"id": i, column: value} for i, value in rows.items()]
            )
    return rows


def _mutations(raw: str) -> list[str]:
    """Near misses of ``raw``: each metacharacter swapped, a character dropped or added."""
    out = [raw, raw.upper(), raw.lower(), f"  {raw}  ", f"{raw}\n"]
    for index, character in enumerate(raw):
        if not character.isalnum():
            out.append(raw[:index] + "x" + raw[index + 1 :])
            out.append(raw[:index] + raw[index + 1 :])
        out.append(raw[:index] + "%" + raw[index:])
        out.append(raw[:index] + "_" + raw[index + 1 :])
    return out


def _expected(rows: dict[int, str], identifier: Identifier) -> set[str]:
    return {
        f"id={i}" for i, v in rows.items() if try_normalise(identifier.type, v) == identifier.value
    }


def _check(url: str, source: SqlConnector, column: str, raw: str, extra: list[str]) -> None:
    try:
        identifier = ident(COLUMNS[column], raw)
    except InvalidIdentifier:
        assume(False)
        raise  # unreachable: assume() stops the example
    stored = [v.replace("\x00", "") for v in [*_mutations(raw), *NASTY, *extra]]
    rows = _store(url, column, stored)
    result = source.scan([identifier])
    expected = _expected(rows, identifier)
    assert expected, "the identifier's own spelling is stored"
    assert keys(result.records) == expected
    for record in result.records:
        assert try_normalise(identifier.type, record.value(column)) == identifier.value
    if column == "full_name":
        # LIKE patterns: '%' and '_' in the name match only themselves, so the database
        # offers only rows that hold every word of the name literally.
        words = name_words(identifier.value)
        literal = [v for v in rows.values() if all(w in fold_text(v) for w in words)]
        assert result.rows_read <= len(literal)


TEXT = st.text(alphabet=META + "abcAB12", min_size=1, max_size=12)
OTHERS = st.lists(st.text(alphabet=META + "abcAB12@", max_size=16), max_size=6)


@PROPERTY
@given(
    local=TEXT, domain=st.sampled_from(["example.nl", "Ex_ample.NL", "ex%ample.nl"]), extra=OTHERS
)
def test_email_local_parts_with_metacharacters(people, local: str, domain: str, extra) -> None:
    url, source = people
    _check(url, source, "email", f"{local}@{domain}", extra)


@PROPERTY
@given(raw=st.text(alphabet=META + "abcdeAB", min_size=1, max_size=16), extra=OTHERS)
def test_names_with_metacharacters(people, raw: str, extra) -> None:
    url, source = people
    _check(url, source, "full_name", raw, extra)


@PROPERTY
@given(raw=TEXT, extra=OTHERS)
def test_account_ids_with_metacharacters(people, raw: str, extra) -> None:
    url, source = people
    _check(url, source, "account", raw, extra)


@PROPERTY
@given(raw=TEXT, domain=st.sampled_from(["", "ACME\\", "a%\\", "_\\"]), extra=OTHERS)
def test_usernames_with_metacharacters(people, raw: str, domain: str, extra) -> None:
    url, source = people
    _check(url, source, "username", domain + raw, extra)


def test_values_are_bound_never_written_into_the_sql(people) -> None:
    url, source = people
    _store(url, "account", ["' OR '1'='1", "anything", "%"])
    statements: list[str] = []
    sa.event.listen(
        source.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    result = source.scan([ident("account", "' OR '1'='1"), ident("email", "%@%.nl")])
    assert keys(result.records) == {"id=1"}
    assert statements
    assert not any("1'='1" in s or "%@%" in s for s in statements)


@pytest.mark.parametrize("kind", ["email", "name", "account", "username", "phone", "imei"])
@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\n", "\t"])
def test_nul_and_control_characters_are_refused_at_input(kind: str, control: str) -> None:
    values = {
        "email": f"jan{control}devries@example.nl",
        "name": f"Jan{control}de Vries",
        "account": f"acc{control}42",
        "username": f"ja{control}n",
        "phone": f"06 1234{control}5678",
        "imei": f"3520990017{control}61481",
    }
    with pytest.raises(InvalidIdentifier, match="control characters"):
        Identifier.parse(kind, values[kind])
    with pytest.raises(InvalidIdentifier):
        build_request([(kind, values[kind])])


def test_nul_is_refused_even_at_the_ends() -> None:
    for raw in ("\x00jan@example.nl", "jan@example.nl\x00"):
        with pytest.raises(InvalidIdentifier):
            Identifier.parse("email", raw)


def test_stored_values_with_control_characters_inside_never_match(people) -> None:
    url, source = people
    rows = _store(url, "email", ["jan@example.nl", "jan\x01@example.nl", "jan@exa\nmple.nl"])
    result = source.scan([ident("email", "jan@example.nl")])
    assert keys(result.records) == {"id=1"}
    assert len(rows) == 3


def test_alphabet_covers_the_issue_s_metacharacters() -> None:
    for character in "'%_\\\"*":
        assert character in META
    assert set(string.ascii_letters) - set(META)
