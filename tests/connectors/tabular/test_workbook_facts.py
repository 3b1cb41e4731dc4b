"""Workbook facts (number cells, the archive check) are learnt once per workbook version."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tabular_helpers import SIM_MAPPING, connector, keys, scan, workbook_bytes

import connectors.tabular.read as tabular_read
from connectors.tabular.workbook_facts import WorkbookFacts, as_runs, from_runs

ZOE_ICCID = "8931041012345678910"
SAAR_ICCID = "8931040224203968512"  # a text cell whose digits happen to be a double's


def _rows(number_iccid: str) -> list[list[Any]]:
    return [
        ["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"],
        [SAAR_ICCID, "0612345678", None, "Saar", "saar@example.nl", "12345678"],
        [float(number_iccid), "0687654321", None, "Zoë", "zoe@example.nl", "87654321"],
    ]


@pytest.fixture
def read_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every full read of cell types, of a column or of every column before a sheet is
    parsed (-1) (the real ones, counted)."""
    calls: list[int] = []
    real = tabular_read._number_cells
    real_early = tabular_read._early_number_cells

    def counting(reader: Any, sheet: str, column: int) -> list[bool]:
        calls.append(column)
        return real(reader, sheet, column)

    def counting_early(*args: Any) -> dict[int, list[bool]]:
        flags = real_early(*args)
        if flags:
            calls.append(-1)
        return flags

    monkeypatch.setattr(tabular_read, "_number_cells", counting)
    monkeypatch.setattr(tabular_read, "_early_number_cells", counting_early)
    return calls


def _answers(tmp_path: Path, **connection: Any) -> tuple[list[str], str, bool]:
    """A new connector each time, as a new search process has."""
    settings = connection or {"index_cache": str(tmp_path / "cache")}
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", **settings)
    saar = keys(scan(target, ("iccid", SAAR_ICCID)))
    (zoe,) = scan(target, ("email", "zoe@example.nl")).records  # the workbook is opened
    iccid = next(f for f in zoe.fields if f.name == "iccid")
    return saar, str(iccid.value), iccid.spec.expandable


def test_number_cells_are_read_once_per_workbook_version(
    tmp_path: Path, read_calls: list[int]
) -> None:
    workbook = tmp_path / "sims.xlsx"
    workbook.write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    first = _answers(tmp_path)
    # the text cell is trusted; the number cell lost digits: shown as Excel shows it
    assert first == (["row=2"], "8.93104E+18", False)
    learnt = len(read_calls)
    assert learnt >= 1

    assert _answers(tmp_path) == first  # a later search: the same answer, no second read
    assert len(read_calls) == learnt

    # the workbook is written again: Saar's ICCID is now a number cell too
    rows = _rows(ZOE_ICCID)
    rows[1][0] = float(SAAR_ICCID)
    workbook.write_bytes(workbook_bytes({"SIMs": rows}))
    os.utime(workbook, ns=(1, 1))  # even with an old time: size or inode differ
    saar, _zoe, _expandable = _answers(tmp_path)
    assert len(read_calls) > learnt
    assert saar == []  # a number cell lost digits: never matched


def test_facts_are_private_and_hold_no_values(tmp_path: Path, read_calls: list[int]) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    _answers(tmp_path)
    folder = tmp_path / "cache"
    files = list(folder.glob("workbook-*.json"))
    assert files
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        text = file.read_text()
        for value in (SAAR_ICCID, ZOE_ICCID[:12], "87654321", "saar@example.nl", "0612345678"):
            assert value not in text


def test_a_damaged_facts_file_is_learnt_again(tmp_path: Path, read_calls: list[int]) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    first = _answers(tmp_path)
    learnt = len(read_calls)
    for file in (tmp_path / "cache").glob("workbook-*.json"):
        file.write_text('{"stamp": [1, 2, 3], "facts": {"number-cells')
    assert _answers(tmp_path) == first
    assert len(read_calls) > learnt


def test_runs_round_trip() -> None:
    flags = [False, True, True, False, True, False, False, True]
    assert as_runs(flags) == [[1, 3], [4, 5], [7, 8]]
    assert from_runs(as_runs(flags), len(flags)) == flags
    assert as_runs([]) == [] and from_runs([], 3) == [False] * 3


def test_a_fact_of_a_workbook_that_changed_while_read_is_not_kept(tmp_path: Path) -> None:
    workbook = tmp_path / "book.xlsx"
    workbook.write_bytes(b"one")
    facts = WorkbookFacts(tmp_path / "facts")
    before = facts.stamp(workbook)
    workbook.write_bytes(b"changed")
    facts.put(workbook, "archive-checked", True, before)
    assert facts.get(workbook, "archive-checked") is None
    facts.put(workbook, "archive-checked", True, facts.stamp(workbook))
    assert facts.get(workbook, "archive-checked") is True


def test_facts_are_cleared_with_the_index_and_not_kept_without_one(
    tmp_path: Path, read_calls: list[int]
) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    _answers(tmp_path)
    assert list((tmp_path / "cache").glob("workbook-*.json"))
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index_cache=str(tmp_path / "cache"))
    assert target.clear_index() is True
    assert list((tmp_path / "cache").glob("workbook-*.json")) == []

    _answers(tmp_path, index=False)
    learnt = len(read_calls)
    _answers(tmp_path, index=False)
    assert len(read_calls) > learnt  # learnt again by the next search: kept nowhere
    assert list((tmp_path / "cache").glob("workbook-*.json")) == []


def test_a_workbook_sheet_over_some_rows_keeps_their_numbers_and_number_cells(
    tmp_path: Path,
) -> None:
    from connectors.tabular.read import excel_rows

    rows = _rows(ZOE_ICCID)
    rows += [[f"89310400000000{n:05d}", f"06{n:08d}", None, f"P{n}", None, None] for n in range(50)]
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": rows}))
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index_cache=str(tmp_path / "cache"))
    settings = {
        "base_dir": tmp_path,
        "scope": None,
        "cache": {},
        "ordinal": 0,
        "rows": [1, 40],
        "expected": len(rows) - 1,
    }
    part = excel_rows(tmp_path / "sims.xlsx", target.mapping, **settings)  # type: ignore[arg-type]
    assert part is not None and part.typed
    frame = part.raw.collect()
    assert frame.get_column("__index").to_list() == [1, 40]
    shown = part.query(pl.lit(True)).collect()
    assert shown.get_column("__row").to_list() == [3, 42]  # the rows of the workbook
    assert shown.get_column("iccid").to_list()[0] == "8.93104E+18"  # a number cell: lost
    # a sheet whose number of rows is not what the index knows: read whole instead
    assert excel_rows(tmp_path / "sims.xlsx", target.mapping, **{**settings, "expected": 7}) is None  # type: ignore[arg-type]


def test_the_rounds_of_a_search_load_a_workbook_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.tabular.connector as tabular_connector

    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    loads: list[object] = []
    real = tabular_connector.excel_rows

    def counting(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs["rows"])
        return real(*args, **kwargs)

    monkeypatch.setattr(tabular_connector, "excel_rows", counting)
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index_cache=str(tmp_path / "cache"))
    target.build_index()
    target.begin_search()
    assert keys(scan(target, ("email", "zoe@example.nl"))) == ["row=3"]  # round 0
    assert keys(scan(target, ("phone", "0687654321"))) == ["row=3"]  # round 1: same row
    assert len(loads) == 1
    assert keys(scan(target, ("email", "saar@example.nl"))) == ["row=2"]  # a new row
    assert len(loads) == 2 and set(loads[1]) == {0, 1}  # loaded again with both


def test_the_cell_types_are_read_before_the_text_and_once(
    tmp_path: Path, read_calls: list[int]
) -> None:
    """A cold index build learns every column's cell types in one read before the
    sheet's text is parsed (their memory does not add up), and no column again."""
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index_cache=str(tmp_path / "cache"))
    target.build_index()
    assert read_calls == [-1]
    facts = WorkbookFacts(tmp_path / "cache")
    assert facts.known(tmp_path / "sims.xlsx") >= {"archive-checked", "number-cells:SIMs:0"}
    assert _answers(tmp_path) == (["row=2"], "8.93104E+18", False)
    assert read_calls == [-1]
