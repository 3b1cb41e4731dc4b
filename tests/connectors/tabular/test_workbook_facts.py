"""Workbook facts (number cells, the archive check) are learnt once per workbook version."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

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
    """Every full read of a column's cell types (the real one, counted)."""
    calls: list[int] = []
    real = tabular_read._number_cells

    def counting(reader: Any, sheet: str, column: int) -> list[bool]:
        calls.append(column)
        return real(reader, sheet, column)

    monkeypatch.setattr(tabular_read, "_number_cells", counting)
    return calls


def _answers(tmp_path: Path) -> tuple[list[str], list[str], list[str]]:
    """A new connector each time, as a new search process has."""
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index=False)
    saar = keys(scan(target, ("iccid", SAAR_ICCID)))
    zoe = scan(target, ("iccid", ZOE_ICCID))
    return saar, keys(zoe), zoe.warnings


def test_number_cells_are_read_once_per_workbook_version(
    tmp_path: Path, read_calls: list[int]
) -> None:
    workbook = tmp_path / "sims.xlsx"
    workbook.write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    first = _answers(tmp_path)
    assert first[0] == ["row=2"] and first[1] == []  # text cell trusted, number cell not
    assert any("row 3" in w for w in first[2])
    learnt = len(read_calls)
    assert learnt >= 1

    assert _answers(tmp_path) == first  # a later search: the same answer, no second read
    assert len(read_calls) == learnt

    # the workbook is written again: Saar's ICCID is now a number cell too
    rows = _rows(ZOE_ICCID)
    rows[1][0] = float(SAAR_ICCID)
    workbook.write_bytes(workbook_bytes({"SIMs": rows}))
    os.utime(workbook, ns=(1, 1))  # even with an old time: size or inode differ
    saar, _zoe, _warnings = _answers(tmp_path)
    assert len(read_calls) > learnt
    assert saar == []  # a number cell lost digits: never matched


def test_facts_are_private_and_hold_no_values(tmp_path: Path, read_calls: list[int]) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows(ZOE_ICCID)}))
    _answers(tmp_path)
    folder = Path(os.environ["DISCOVER_CACHE_DIR"]) / "workbook-facts"
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
    folder = Path(os.environ["DISCOVER_CACHE_DIR"]) / "workbook-facts"
    for file in folder.glob("workbook-*.json"):
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
