"""Column profiles: searching the spellings a column stores, on SQLite, PostgreSQL and MariaDB.

A searched column's patterns are learnt from all its distinct values; a search
then asks ``column IN (<the subject's identifiers in those patterns>)``, which a
plain index on the column serves. These tests check that nothing is missed that the
normalising predicate finds (also after the table changed), that the plain index is
used (EXPLAIN), and that the cache holds no personal data.
"""

from __future__ import annotations

import json
import logging
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sql_support import connector, create, ident, keys, writer

from connectors.sql.profile import CACHE_VERSION, MAX_PATTERNS, ColumnProfile
from discover.identifiers import Identifier, try_normalise

SUBJECT = "+31612345678"
FILLER = 6000

#: id -> (a_number as a BIGINT in switch format, b_number as text); the subject's rows
SUBJECT_ROWS: dict[int, tuple[int | None, str | None]] = {
    1: (31612345678, "0031 6 2000 0001"),
    2: (31620000002, "06-1234 5678"),
    3: (31620000003, "+31 6 12345678"),
    4: (31612345678, "06-1234 5678"),
}
#: candidates the database may offer that verification drops (same national digits)
DECOYS: dict[int, tuple[int | None, str | None]] = {
    5: (49612345678, "06-2000 0005"),
}


def _b_number(index: int) -> str:
    digits = f"{20000000 + index:08d}"
    formats = (f"06-{digits[:4]} {digits[4:]}", f"+31 6 {digits}", f"0031 6 {digits}")
    return formats[index % 3]


def _calls(metadata: sa.MetaData) -> sa.Table:
    table = sa.Table(
        "calls",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a_number", sa.BigInteger),
        sa.Column("b_number", sa.String(40)),
        sa.Column("email", sa.String(100)),
    )
    sa.Index("ix_calls_a", table.c.a_number)
    sa.Index("ix_calls_b", table.c.b_number)
    sa.Index("ix_calls_email", table.c.email)
    return table


def _rows() -> list[dict[str, Any]]:
    rows = [
        {"id": i, "a_number": a, "b_number": b, "email": None}
        for i, (a, b) in {**SUBJECT_ROWS, **DECOYS}.items()
    ]
    rows += [
        {
            "id": 100 + i,
            "a_number": 31620000000 + i,
            "b_number": _b_number(i),
            "email": f"user{i}@example.nl" if i % 2 else f"USER{i}@EXAMPLE.NL",
        }
        for i in range(FILLER)
    ]
    return rows


MAPPING = {
    "tables": {
        "calls": {
            "key": "id",
            "category": "usage.calls",
            "columns": {
                "id": None,
                "a_number": {"identifier": "phone"},
                "b_number": {"identifier": "phone"},
                "email": {"identifier": "email"},
            },
        }
    }
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("DISCOVER_CACHE_DIR", str(directory))
    return directory / "sql-profiles"


def _fill(url: str) -> str:
    metadata = sa.MetaData()
    _calls(metadata)
    create(url, metadata, {"calls": _rows()})
    with writer(url) as engine, engine.begin() as connection:
        analyze = "ANALYZE TABLE calls" if engine.dialect.name == "mysql" else "ANALYZE"
        connection.execute(sa.text(analyze))
    return url


@pytest.fixture
def calls_url(database_url: str, cache: Path) -> str:
    return _fill(database_url)


@pytest.fixture
def postgres_calls_url(postgres_url: str, cache: Path) -> str:
    return _fill(postgres_url)


def _statements(source: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    sa.event.listen(
        source.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, parameters, *_: seen.append((statement, parameters)),
    )
    return seen


def _learning(statement: str) -> bool:
    """The statement every profiling starts with (the largest key, for the guard)."""
    return "max(calls.id)" in statement


def _search_statement(seen: list[tuple[str, Any]]) -> tuple[str, Any]:
    """The last main search statement (not the one over rows added after profiling)."""
    return next(s for s in reversed(seen) if "b_number AS" in s[0] and not _newer(s[0]))


def _newer(statement: str) -> bool:
    return "WHERE calls.id >" in " ".join(statement.split())


def _write(url: str, statement: str, **params: Any) -> None:
    with writer(url) as engine, engine.begin() as connection:
        connection.execute(sa.text(statement), params)


def _subject() -> list[Identifier]:
    return [ident("phone", SUBJECT)]


# -- the search --------------------------------------------------------------------------


def test_stored_spellings_are_searched_with_in_and_every_one_is_found(calls_url: str) -> None:
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        result = source.scan(_subject())
    assert keys(result.records) == {f"id={i}" for i in SUBJECT_ROWS}
    statement, _ = _search_statement(seen)
    # exact comparisons on the bare columns, not the normalising expression
    assert "a_number IN" in statement and "b_number IN" in statement
    newer = [s for s, _ in seen if _newer(s)]
    if sa.make_url(calls_url).get_backend_name() == "postgresql":
        # both columns lead an index: the rows added after profiling are one more arm
        # of the same statement, the normalising expression only behind the key guard
        exact, guarded = " ".join(statement.split()).split("OR calls.id >")
        assert "replace(" not in exact.lower() and "replace(" in guarded.lower()
        assert not newer
    else:
        # the rows added after profiling: a statement of their own, over a key range
        assert "replace(" not in statement.lower()
        assert newer and "replace(" in newer[-1].lower()
    # rows transferred: the matches and the one foreign decoy, nothing else
    assert result.rows_read <= len(SUBJECT_ROWS) + len(DECOYS)


def test_postgresql_reads_rows_added_since_profiling_with_the_indexed_lookup(
    postgres_calls_url: str,
) -> None:
    """One statement, one bitmap OR of index scans (the key's for the newer rows),
    when every exactly compared column leads a plain index; a statement of its own for
    the newer rows when one does not (on a full scan that arm slows every row)."""
    calls_url = postgres_calls_url  # the other backends: always a statement of their own
    with connector(calls_url, MAPPING) as source:
        source.scan(_subject())
    _write(calls_url, "INSERT INTO calls (id, b_number) VALUES (9002, '(06) 1234.5678')")
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        result = source.scan(_subject())
    assert "id=9002" in keys(result.records)
    searched = [s for s in seen if s[0].startswith("SELECT calls.id AS")]  # not learning
    assert len(searched) == 1 and not _newer(searched[0][0]), [s[:300] for s, _ in searched]
    with writer(calls_url) as engine, engine.connect() as connection:
        plan = " ".join(
            str(r) for r in connection.exec_driver_sql("EXPLAIN " + searched[0][0], searched[0][1])
        )
    assert "BitmapOr" in plan and "calls_pkey" in plan and "Seq Scan" not in plan, plan
    _write(calls_url, "DROP INDEX ix_calls_b")
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        result = source.scan(_subject())
    assert "id=9002" in keys(result.records)
    assert [s for s, _ in seen if _newer(s)], "the newer rows lost their own statement"


def test_a_plain_index_on_the_column_serves_the_search(calls_url: str) -> None:
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        assert source.scan(_subject()).records
    statement, parameters = _search_statement(seen)
    with writer(calls_url) as engine, engine.connect() as connection:
        backend = engine.dialect.name
        explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        plan = " ".join(str(r) for r in connection.exec_driver_sql(explain + statement, parameters))
    assert "ix_calls_a" in plan and "ix_calls_b" in plan, plan
    if backend == "sqlite":
        assert "SCAN calls" not in plan, plan
    elif backend == "postgresql":
        assert "Seq Scan" not in plan, plan
    else:
        assert "'ALL'" not in plan, plan


def test_the_profile_is_cached_per_source_and_reused(calls_url: str, cache: Path) -> None:
    with connector(calls_url, MAPPING) as source:
        first = _statements(source)
        source.scan(_subject())
    assert any(_learning(s) for s, _ in first)
    files = list(cache.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    text = files[0].read_text()
    # patterns and a few leading digits, never a stored number or address
    for secret in ("612345678", "20000001", "user1", "example"):
        assert secret not in text
    if sa.make_url(calls_url).get_backend_name() == "mysql":
        time.sleep(1.1)  # MariaDB's update time has whole seconds: see fresh()
        with connector(calls_url, MAPPING) as source:
            source.scan(_subject())
    with connector(calls_url, MAPPING) as source:  # a new process would read the file
        second = _statements(source)
        result = source.scan(_subject())
    assert keys(result.records) == {f"id={i}" for i in SUBJECT_ROWS}
    assert not any(_learning(s) for s, _ in second)


def test_a_row_added_after_profiling_in_a_new_spelling_is_found(calls_url: str) -> None:
    with connector(calls_url, MAPPING) as source:
        source.scan(_subject())
    _write(calls_url, "INSERT INTO calls (id, b_number) VALUES (9000, '(06) 1234.5678')")
    with connector(calls_url, MAPPING) as source:
        result = source.scan(_subject())
    assert "id=9000" in keys(result.records)


def test_new_rows_are_found_even_before_the_fingerprint_moves(calls_url: str, cache: Path) -> None:
    """Statistics may report a write late (PostgreSQL): rows with a key above the
    largest profiled one are searched the normalising way regardless."""
    with connector(calls_url, MAPPING) as source:
        source.scan(_subject())
    _write(calls_url, "INSERT INTO calls (id, b_number) VALUES (9001, '(06) 1234.5678')")
    # a fingerprint that has not seen the insert yet: the cached profile is trusted
    with connector(calls_url, MAPPING) as source, source.engine.connect() as connection:
        from connectors.sql.profile import fingerprint

        current = fingerprint(connection, "calls", None)
    (path,) = cache.iterdir()
    document = json.loads(path.read_text())
    for table in document["tables"].values():
        table["fingerprint"] = current
    path.write_text(json.dumps(document))
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        result = source.scan(_subject())
    if sa.make_url(calls_url).get_backend_name() != "mysql":  # MariaDB: same second
        assert not any(_learning(s) for s, _ in seen)  # the stale profile was used
    assert "id=9001" in keys(result.records)


def _wait_for_statistics(url: str) -> None:
    """PostgreSQL's statistics report a session's writes when it ends: wait for them."""
    if sa.make_url(url).get_backend_name() != "postgresql":
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with writer(url) as engine, engine.connect() as connection:
            updated = connection.execute(
                sa.text("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'calls'")
            ).scalar()
        if updated:
            return
        time.sleep(0.2)
    pytest.fail("PostgreSQL did not report the update in its statistics")


def test_the_postgresql_fingerprint_is_what_the_statistics_views_report(
    postgres_url: str, cache: Path
) -> None:
    """Read from the statistics functions for one table, not the views over all of them:
    the same values (profiles cached before stay valid), and they move with a write."""
    from connectors.sql.profile import fingerprint

    metadata = sa.MetaData()
    _calls(metadata)
    create(postgres_url, metadata, {"calls": _rows()})
    _write(postgres_url, "UPDATE calls SET b_number = '06/12345678' WHERE id = 150")
    _wait_for_statistics(postgres_url)
    views = (
        "SELECT c.relfilenode, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, d.stats_reset "
        "FROM pg_class c JOIN pg_stat_all_tables s ON s.relid = c.oid "
        "JOIN pg_stat_database d ON d.datname = current_database() "
        "WHERE c.relname = 'calls' AND s.schemaname = current_schema()"
    )
    with writer(postgres_url) as engine, engine.connect() as connection:
        current = fingerprint(connection, "calls", None)
        reported = list(connection.execute(sa.text(views)).one())
    assert current is not None and current[:4] == reported[:4] and current[2] == 1
    assert current[4] == (reported[4].isoformat() if reported[4] else None)


def test_an_old_row_updated_to_a_new_spelling_is_found(calls_url: str) -> None:
    with connector(calls_url, MAPPING) as source:
        assert "id=150" not in keys(source.scan(_subject()).records)
    if sa.make_url(calls_url).get_backend_name() == "mysql":
        time.sleep(1.1)  # a write in a later second than the profile
    _write(calls_url, "UPDATE calls SET b_number = '06/12345678' WHERE id = 150")
    _wait_for_statistics(calls_url)
    with connector(calls_url, MAPPING) as source:
        result = source.scan(_subject())
    assert "id=150" in keys(result.records)


def test_a_corrupt_cache_is_learnt_again_with_a_warning(
    calls_url: str, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with connector(calls_url, MAPPING) as source:
        source.scan(_subject())
    (path,) = cache.iterdir()
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING), connector(calls_url, MAPPING) as source:
        result = source.scan(_subject())
    assert keys(result.records) == {f"id={i}" for i in SUBJECT_ROWS}
    assert "learnt again" in caplog.text
    assert json.loads(path.read_text())["version"] == CACHE_VERSION


def test_mixed_case_columns_keep_the_normalising_predicate(calls_url: str) -> None:
    _write(calls_url, "INSERT INTO calls (id, email) VALUES (9002, 'Jan.DeVries@Example.NL')")
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        result = source.scan([ident("email", "jan.devries@example.nl")])
    assert keys(result.records) == {"id=9002"}
    statement, _ = _search_statement(seen)
    assert "lower(" in statement.lower() and "calls.email IN" not in statement


def test_upper_and_lower_case_columns_are_searched_exactly(calls_url: str) -> None:
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        wanted = [ident("email", "user7@example.nl"), ident("email", "user8@example.nl")]
        result = source.scan(wanted)
    assert keys(result.records) == {"id=107", "id=108"}
    statement, _ = _search_statement(seen)
    assert "email IN" in statement


def test_capitalised_columns_are_searched_exactly(calls_url: str) -> None:
    # as CRMs that capitalise names write addresses: each word, or the first letter
    _write(
        calls_url,
        "INSERT INTO calls (id, email) VALUES (9003, 'Jan.De-Vries@Example.Nl'), "
        "(9004, 'Anna.smit@example.nl'), (9005, 'Jan.de-vries@example.nl')",
    )
    with connector(calls_url, MAPPING) as source:
        seen = _statements(source)
        wanted = [ident("email", "jan.de-vries@example.nl"), ident("email", "anna.smit@example.nl")]
        result = source.scan(wanted)
    assert keys(result.records) == {"id=9003", "id=9004", "id=9005"}
    statement, _ = _search_statement(seen)
    assert "calls.email IN" in statement  # the bare column, as a plain index serves it


def test_profiles_can_be_switched_off(calls_url: str, tmp_path: Path) -> None:
    with connector(calls_url, MAPPING) as source:
        source.source.connection["profile"] = False
        seen = _statements(source)
        result = source.scan(_subject())
    assert keys(result.records) == {f"id={i}" for i in SUBJECT_ROWS}
    assert not any(_learning(s) for s, _ in seen)


# -- learning and writing spellings (no database) -----------------------------------------


def _profile(kind: str, values: list[object]) -> ColumnProfile:
    profile = ColumnProfile(kind)
    for value in values:
        profile.add(value)
    return profile


def test_phone_spellings_in_each_pattern() -> None:
    profile = _profile("phone", ["06-2000 0001", "+31 6 20000002", 31620000003, "0031620000004"])
    spellings = profile.spellings([ident("phone", SUBJECT)], [])
    assert spellings is not None
    assert {"06-1234 5678", "+31 6 12345678", 31612345678, "0031612345678"} <= set(spellings)


def test_imei_iccid_and_imsi_spellings() -> None:
    imei = _profile("imei", ["35-209900-176148-1", "3520990017614801"])
    spellings = imei.spellings([ident("imei", "352099001761481")], [])
    assert spellings and "35-209900-176148-1" in spellings and "3520990017614801" in spellings
    iccid = _profile("iccid", ["8931041012345678902F"])
    assert iccid.spellings([ident("iccid", "8931041012345678902")], []) == ["8931041012345678902F"]
    imsi = _profile("imsi", ["204 04 1234567890"])
    assert imsi.spellings([ident("imsi", "204041234567890")], []) == ["204 04 1234567890"]


def test_email_spellings_in_each_case_the_column_holds() -> None:
    profile = _profile("email", ["Piet.Jansen@Acme.Nl", "Anna.smit@acme.nl", " KEES@ACME.NL"])
    wanted = [ident("email", "jan.de-vries@example.nl")]
    spellings = profile.spellings(wanted, ["jan.de-vries@example.nl"])
    assert spellings is not None
    assert {
        "Jan.De-Vries@Example.Nl",
        "Jan.de-vries@example.nl",
        " JAN.DE-VRIES@EXAMPLE.NL",
    } == set(spellings)


def test_values_the_predicate_never_selects_do_not_count() -> None:
    profile = _profile("phone", ["onbekend", "", "n/a", "06-2000 0001"])
    assert profile.refused is None and profile.patterns == 1


@pytest.mark.parametrize(
    ("kind", "values", "reason"),
    [
        ("phone", ["Jan 06-12345678"], "letters"),
        ("email", ["Jan <jan@example.nl>"], "display"),
        ("email", ["Jan@Example.NL"], "mixed-case"),
        ("email", ["jan@example.nl", "Jan.deVries@example.nl"], "mixed-case"),
        ("username", ["ACME\\jan"], "domain"),
        ("phone", [f"{'-' * (i % 9)}06{'.' * (i // 9)}20000001" for i in range(90)], "patterns"),
        ("phone", [1.5], "float"),
    ],
)
def test_columns_that_cannot_be_written_keep_the_normalising_predicate(
    kind: str, values: list[object], reason: str
) -> None:
    profile = _profile(kind, values)
    assert profile.refused and reason in profile.refused
    assert profile.spellings([ident("phone", SUBJECT)], []) is None
    assert MAX_PATTERNS < 90


def test_too_many_leading_digits_fall_back_for_that_length() -> None:
    # 11-digit numbers with 9,000 different 4-digit beginnings: a 9-digit national
    # number needs the first two digits (90 of them), an 8-digit one the first three
    # (900), a 7-digit one the first four (too many: the normalising way)
    profile = _profile("phone", [f"{n:04d}{n:07d}" for n in range(1000, 10000)])
    assert profile.spellings([ident("phone", SUBJECT)], []) is not None
    berlin = profile.spellings([ident("phone", "+49 30 123456")], [])
    assert berlin is not None
    assert all(try_normalise("phone", str(s)) == "+4930123456" for s in berlin)
    assert profile.spellings([ident("phone", "+354 551 2345")], []) is None


def test_the_stored_profile_holds_no_values() -> None:
    profile = _profile("phone", ["06-1234 5678", "0031 6 87654321"])
    text = json.dumps(profile.to_json())
    assert "12345678" not in text and "87654321" not in text
    restored = ColumnProfile.from_json(json.loads(text))
    assert restored.spellings(_subject(), []) == profile.spellings(_subject(), [])


def test_a_column_that_cannot_be_profiled_is_searched_the_normalising_way(
    postgres_url: str, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL has no DISTINCT for json: profiling fails, the search does not."""
    metadata = sa.MetaData()
    sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("extra", sa.JSON),
    )
    rows = [
        {"id": i, "email": f"user{i}@example.nl", "extra": {"note": "x" * 40}} for i in range(3000)
    ]
    create(postgres_url, metadata, {"people": rows})
    mapping = {
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": None,
                    "email": {"identifier": "email"},
                    "extra": {"identifier": "account"},
                },
            }
        }
    }
    with caplog.at_level(logging.WARNING), connector(postgres_url, mapping) as source:
        result = source.scan([ident("email", "user7@example.nl"), ident("account", "a-7")])
    assert keys(result.records) == {"id=7"}
    assert "not profiled" in caplog.text and "user7" not in caplog.text


def test_spellings_that_normalise_to_another_number_are_left_out() -> None:
    # 10-digit switch numbers of two countries: "3" + a Dutch national number would be
    # a Hungarian number (+36…), never the subject's, so it is not asked for
    profile = _profile("phone", ["4930123456", "3227001234", "31620000003"])
    spellings = profile.spellings(_subject(), [])
    assert spellings == ["31612345678"]
