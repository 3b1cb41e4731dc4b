"""A large SQLite table is read as two halves side by side, with the result of one pass."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sql_support import connector, ident, writer

from connectors.base import ScanResult
from connectors.sql import halves

#: the calls of 0612345678 (stored in three spellings), spread over the whole table
_NUMBERS = ("0612345678", "+31612345678", "31612345678")


def _calls(url: str, *, table_options: str = "", extra_column: str = "") -> dict[str, Any]:
    """A table of 60 calls, a few of them the subject's, created with plain SQL (so
    that WITHOUT ROWID and odd column names can be given); its mapping."""
    column = f", {extra_column} TEXT" if extra_column else ""
    with writer(url) as engine, engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE calls (id INTEGER NOT NULL PRIMARY KEY, caller TEXT{column})"
            f" {table_options}"
        )
        for number in range(1, 61):
            caller = _NUMBERS[number % 3] if number % 7 == 0 else f"0687{number:06d}"
            connection.exec_driver_sql(
                "INSERT INTO calls (id, caller) VALUES (?, ?)", (number * 3, caller)
            )
    return {
        "tables": {
            "calls": {
                "key": "id",
                "category": "usage.calls",
                "columns": {"id": None, "caller": {"identifier": "phone"}},
            }
        }
    }


def _scan_recording(
    url: str, mapping: dict[str, Any], kind: str, raw: str
) -> tuple[ScanResult, list[tuple[str, int]]]:
    """A scan for one identifier, and every statement it ran (text, thread)."""
    statements: list[tuple[str, int]] = []
    with connector(url, mapping) as source:
        sa.event.listen(
            source.engine,
            "before_cursor_execute",
            lambda _c, _cur, text, *_: statements.append((text, threading.get_ident())),
        )
        result = source.scan([ident(kind, raw)])
    return result, statements


def _search(url: str, mapping: dict[str, Any]) -> tuple[list[str], int, list[tuple[str, int]]]:
    """The keys found (in the order found), the rows read and the statements that read
    the table's rows (text, thread), not the ones that learn its profile."""
    result, statements = _scan_recording(url, mapping, "phone", "06-12345678")
    reads = [(text, thread) for text, thread in statements if " AS c0" in text]
    return [record.key for record in result.records], result.rows_read, reads


@pytest.fixture
def small_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(halves, "SPLIT_FROM", 10)
    monkeypatch.setattr(halves.os, "cpu_count", lambda: 2)


def _one_pass(url: str, mapping: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(halves, "SPLIT_FROM", 10**9)
        return _search(url, mapping)


def test_a_large_table_is_read_in_two_halves_with_the_result_of_one_pass(
    sqlite_url: str, small_split: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = _calls(sqlite_url)
    found, rows_read, reads = _search(sqlite_url, mapping)
    assert len(found) == 8
    assert rows_read == 8  # every row read is a match: no row twice, none outside
    halves_read = [text for text, _thread in reads if "_rowid_" in text]
    assert len(halves_read) == 2
    assert any("_rowid_ <=" in text for text in halves_read)
    assert any("_rowid_ >" in text for text in halves_read)
    assert len({thread for _text, thread in reads}) == 2  # side by side
    one_found, one_read, one_reads = _one_pass(sqlite_url, mapping, monkeypatch)
    assert all("_rowid_" not in text for text, _thread in one_reads)
    assert (found, rows_read) == (one_found, one_read)  # the same records, same order


@pytest.mark.parametrize(
    ("table_options", "extra_column"),
    [("WITHOUT ROWID", ""), ("", "oid"), ("", "_ROWID_")],
    ids=["without-rowid", "a-column-named-oid", "a-column-named-rowid"],
)
def test_a_table_without_a_real_rowid_is_read_in_one_pass(
    sqlite_url: str, small_split: None, table_options: str, extra_column: str
) -> None:
    mapping = _calls(sqlite_url, table_options=table_options, extra_column=extra_column)
    found, rows_read, reads = _search(sqlite_url, mapping)
    assert (len(found), rows_read) == (8, 8)
    assert all("_rowid_ <=" not in text and "_rowid_ >" not in text for text, _t in reads)


def test_a_view_is_read_in_one_pass(sqlite_url: str, small_split: None) -> None:
    mapping = _calls(sqlite_url)
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql("CREATE VIEW recent_calls AS SELECT id, caller FROM calls")
    mapping["tables"] = {"recent_calls": mapping["tables"]["calls"]}
    found, rows_read, reads = _search(sqlite_url, mapping)
    assert (len(found), rows_read) == (8, 8)
    assert reads and all("_rowid_ <=" not in text for text, _thread in reads)


def test_a_small_table_is_read_in_one_pass(sqlite_url: str) -> None:
    found, _rows_read, reads = _search(sqlite_url, _calls(sqlite_url))
    assert len(found) == 8
    assert reads and all("_rowid_" not in text for text, _thread in reads)


def test_finding_the_middle_reads_the_ends_of_the_table_not_all_of_it(
    sqlite_url: str, small_split: None
) -> None:
    """The rowids' bounds come from the ends of the table's B-tree (SQLite's plan says
    SEARCH), not from a pass over every row (SCAN): it is asked before every search."""
    _result, statements = _scan_recording(sqlite_url, _calls(sqlite_url), "phone", "0612345678")
    # (learning the columns' profiles asks the same, for their size)
    (bounds,) = {text for text, _thread in statements if "max(_rowid_)" in text}
    with writer(sqlite_url) as engine, engine.connect() as connection:
        plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {bounds}")]
    # SEARCH calls, or SEARCH main.calls when the statement names the schema
    assert any(
        step.split(" ")[:2] in (["SEARCH", "calls"], ["SEARCH", "main.calls"]) for step in plan
    ), plan
    assert not any(step.split(" ")[0] == "SCAN" and "calls" in step for step in plan), plan


def test_a_table_an_index_answers_is_read_through_the_index_in_one_statement(
    sqlite_url: str, small_split: None
) -> None:
    mapping = _calls(sqlite_url)
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql("CREATE INDEX ix_calls_caller ON calls (caller)")
    found, rows_read, reads = _search(sqlite_url, mapping)
    assert (len(found), rows_read) == (8, 8)
    assert reads and all("_rowid_ <=" not in text for text, _thread in reads)


def test_a_statement_that_calls_python_for_every_row_is_read_in_one_pass(
    sqlite_url: str, small_split: None
) -> None:
    """Names are searched by folding every stored name (discover_fold): a statement
    that computes new text for every row is read in one pass (SQLite allocates that
    text under one lock for the whole process, and two halves wait on each other)."""
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        for number in range(1, 61):
            name = "Zoë de Vries" if number % 9 == 0 else f"Person {number}"
            connection.exec_driver_sql("INSERT INTO people VALUES (?, ?)", (number, name))
    mapping = {
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {"id": None, "name": {"identifier": "name"}},
            }
        }
    }
    result, statements = _scan_recording(sqlite_url, mapping, "name", "Zoe de Vries")
    assert sorted(int(record.key.split("=")[1]) for record in result.records) == [
        9,
        18,
        27,
        36,
        45,
        54,
    ]
    reads = [text for text, _thread in statements if " AS c0" in text]
    assert any("discover_fold(" in text for text in reads)
    assert all("_rowid_ <=" not in text for text in reads)


def test_a_column_searched_the_normalising_way_is_read_in_one_pass(
    sqlite_url: str, small_split: None
) -> None:
    """A phone column whose profile is refused (letters around a number) is searched
    with the normalising predicate, which computes new text for every row: one pass."""
    mapping = _calls(sqlite_url)
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql("UPDATE calls SET caller = 'tel:+31612345678' WHERE id = 21")
    found, rows_read, reads = _search(sqlite_url, mapping)
    assert (len(found), rows_read) == (8, 8)
    assert any("replace(" in text for text, _thread in reads)
    assert all("_rowid_ <=" not in text for text, _thread in reads)


def test_a_table_whose_name_needs_quoting_is_still_split(
    sqlite_url: str, small_split: None
) -> None:
    """The bounds are asked as text: the table's name goes in quoted, its quotes doubled."""
    with writer(sqlite_url) as engine, engine.begin() as connection:
        connection.exec_driver_sql(
            'CREATE TABLE "call ""log""" (id INTEGER PRIMARY KEY, caller TEXT)'
        )
        for number in range(1, 61):
            caller = _NUMBERS[number % 3] if number % 7 == 0 else f"0687{number:06d}"
            connection.exec_driver_sql(
                'INSERT INTO "call ""log""" (id, caller) VALUES (?, ?)', (number, caller)
            )
    with writer(sqlite_url) as engine, engine.connect() as connection:
        middle = halves.middle_rowid(connection, sa.table('call "log"', schema=None))
    assert middle == 1 + (60 - 1) // 2
    mapping = {
        "tables": {
            "log": {
                "table": 'call "log"',
                "key": "id",
                "category": "usage.calls",
                "columns": {"id": None, "caller": {"identifier": "phone"}},
            }
        }
    }
    found, _rows_read, reads = _search(sqlite_url, mapping)
    assert len(found) == 8
    assert any("_rowid_ <=" in text for text, _thread in reads)
