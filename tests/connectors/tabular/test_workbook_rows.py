"""A workbook sheet's searchable cells are kept beside the index, for one content only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tabular_helpers import SIM_MAPPING, connector, keys, scan, workbook_bytes

import connectors.tabular.read as tabular_read
from connectors.base import WITHHELD
from connectors.tabular.workbook_rows import FILLED, Copy, WorkbookRows, content_digest

PUK = "73914628"
NOTE = "verhuisd naar Tiel"  # a cell of a column the mapping does not name


def _rows(zoe_phone: str = "0687654321") -> list[list[Any]]:
    return [
        ["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK", "Notitie"],
        ["8931040224203968512", "0612345678", None, "Saar", "saar@example.nl", PUK, NOTE],
        ["8931041012345678910", zoe_phone, None, "Zoë", "zoe@example.nl", "  ", None],
        *[
            [f"89310400000000{n:05d}", f"06{n:08d}", None, f"P{n}", None, None, None]
            for n in range(40)
        ],
    ]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a whole sheet is parsed by calamine (the real parse, counted; the
    cell types, of one column or of every column before the text is parsed, learnt
    once per workbook version, are not counted)."""
    import fastexcel

    calls: list[str] = []
    real = fastexcel.ExcelReader.load_sheet

    def counting(self: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        if "use_columns" not in kwargs and kwargs.get("dtypes") != "boolean":
            calls.append(str(name))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(fastexcel.ExcelReader, "load_sheet", counting)
    return calls


def _search(tmp_path: Path, *pair: tuple[str, str], **connection: Any) -> list[str]:
    """A new connector each time, as a new search process has."""
    settings = connection or {"index_cache": str(tmp_path / "cache")}
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", **settings)
    return keys(scan(target, *pair))


def _kept(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("workbook-*-rows-*.parquet"))


def test_a_later_search_reads_the_kept_rows_not_the_workbook(
    tmp_path: Path, parses: list[str]
) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))
    assert _search(tmp_path, ("email", "zoe@example.nl")) == ["row=3"]
    assert len(_kept(tmp_path)) == 1
    parsed = len(parses)
    assert parsed >= 1

    assert _search(tmp_path, ("email", "zoe@example.nl")) == ["row=3"]
    assert _search(tmp_path, ("phone", "0612345678")) == ["row=2"]
    assert len(parses) == parsed  # no sheet parsed again


def test_kept_rows_hold_no_secret_and_no_unmapped_cell(tmp_path: Path, parses: list[str]) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))
    _search(tmp_path, ("email", "saar@example.nl"))
    (file,) = _kept(tmp_path)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    frame = pl.read_parquet(file)
    cells = {str(value) for column in frame.iter_columns() for value in column if value is not None}
    assert PUK not in cells and NOTE not in cells
    assert not any(PUK in cell or NOTE in cell for cell in cells)
    assert {"saar@example.nl", "0612345678", "PUK", "Notitie"} <= cells  # mapped, headers
    puk = frame.get_column(frame.columns[5]).to_list()
    assert puk[:3] == ["PUK", FILLED, None]  # filled or not: a blank PUK is not filled


def test_a_secret_is_still_reported_as_present_from_kept_rows(
    tmp_path: Path, parses: list[str]
) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))
    settings = {"index_cache": str(tmp_path / "cache")}
    for _ in range(2):  # parsed, then from the kept rows
        target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", **settings)
        for email, present in (("saar@example.nl", True), ("zoe@example.nl", False)):
            (record,) = scan(target, ("email", email)).records
            puk = next(field for field in record.fields if field.name == "puk")
            assert (puk.value is WITHHELD) is present  # present or not, never its value
            assert puk.value is WITHHELD or puk.value is None
    assert len(parses) == 1


def test_another_content_is_parsed_again_even_with_the_same_stamp(
    tmp_path: Path, parses: list[str]
) -> None:
    workbook = tmp_path / "sims.xlsx"
    workbook.write_bytes(workbook_bytes({"SIMs": _rows()}))
    _search(tmp_path, ("email", "zoe@example.nl"))
    (file,) = _kept(tmp_path)
    kept = WorkbookRows(file.parent, "settings")
    digest = content_digest(workbook)
    assert digest is not None
    kept.save(workbook, 0, digest, Copy("SIMs", pl.DataFrame({"a": ["x"]})))
    loaded = kept.load(workbook, 0, digest)
    assert loaded is not None and loaded.sheet == "SIMs"
    assert loaded.frame.equals(pl.DataFrame({"a": ["x"]}))
    assert kept.load(workbook, 0, "0" * 64) is None  # another content
    assert WorkbookRows(file.parent, "other").load(workbook, 0, digest) is None  # mapping

    # the same size and time, one cell changed: the content digest tells
    changed = bytearray(workbook.read_bytes())
    changed[-30] ^= 1
    assert content_digest(workbook) != content_digest_of(tmp_path, bytes(changed))


def content_digest_of(tmp_path: Path, data: bytes) -> str | None:
    other = tmp_path / "other.xlsx"
    other.write_bytes(data)
    return content_digest(other)


def test_a_changed_workbook_is_searched_as_it_is_now(tmp_path: Path, parses: list[str]) -> None:
    workbook = tmp_path / "sims.xlsx"
    workbook.write_bytes(workbook_bytes({"SIMs": _rows()}))
    assert _search(tmp_path, ("phone", "0687654321")) == ["row=3"]
    workbook.write_bytes(workbook_bytes({"SIMs": _rows(zoe_phone="0611112222")}))
    parsed = len(parses)
    assert _search(tmp_path, ("phone", "0687654321")) == []
    assert _search(tmp_path, ("phone", "0611112222")) == ["row=3"]
    assert len(parses) > parsed
    assert len(_kept(tmp_path)) == 1  # replaced, not added


def test_damaged_kept_rows_are_parsed_again_and_replaced(tmp_path: Path, parses: list[str]) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))
    first = _search(tmp_path, ("email", "zoe@example.nl"))
    (file,) = _kept(tmp_path)
    file.write_bytes(b"PAR1 not a parquet file")
    parsed = len(parses)
    assert _search(tmp_path, ("email", "zoe@example.nl")) == first
    assert len(parses) > parsed
    assert pl.read_parquet(file).height == len(_rows())  # written again, whole


def test_kept_rows_go_with_index_clear_and_are_not_kept_without_an_index(
    tmp_path: Path, parses: list[str]
) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))
    _search(tmp_path, ("email", "zoe@example.nl"))
    assert _kept(tmp_path)
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index_cache=str(tmp_path / "cache"))
    assert target.clear_index() is True
    assert _kept(tmp_path) == []

    assert _search(tmp_path, ("email", "zoe@example.nl"), index=False) == ["row=3"]
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_copy_that_cannot_be_written_leaves_the_search_whole(
    tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))

    def refused(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", refused)
    assert _search(tmp_path, ("email", "zoe@example.nl")) == ["row=3"]
    assert _search(tmp_path, ("phone", "0612345678")) == ["row=2"]
    assert _kept(tmp_path) == []
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".workbook")]


def test_rows_of_a_reader_cache_without_a_place_keep_nothing() -> None:
    kept = tabular_read.rows_of({})
    assert kept.directory is None
    assert kept.load(Path("x.xlsx"), 0, "0" * 64) is None


def test_the_workbook_is_let_go_before_its_sheet_becomes_a_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open workbook (its shared strings) is freed once calamine has parsed the
    sheet, not held beside the frame the cells become: on the first search (index
    built) and on a search whose kept rows no longer hold (parsed again)."""
    import fastexcel

    real_read = fastexcel.read_excel
    open_readers: list[int] = []
    readers_open_at_conversion: list[int] = []

    class Parsed:
        def __init__(self, parsed: Any, as_text: bool) -> None:
            self._parsed, self._as_text = parsed, as_text

        def to_polars(self) -> pl.DataFrame:
            if self._as_text:
                readers_open_at_conversion.append(len(open_readers))
            return self._parsed.to_polars()

    class Reader:
        def __init__(self, source: Any) -> None:
            self._reader = real_read(source)
            open_readers.append(id(self))

        def __del__(self) -> None:
            open_readers.remove(id(self))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._reader, name)

        def load_sheet(self, *args: Any, **kwargs: Any) -> Parsed:
            as_text = kwargs.get("dtypes") == "string"
            return Parsed(self._reader.load_sheet(*args, **kwargs), as_text)

    monkeypatch.setattr(fastexcel, "read_excel", Reader)
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": _rows()}))
    assert _search(tmp_path, ("email", "zoe@example.nl")) == ["row=3"]
    for kept in _kept(tmp_path):
        kept.write_bytes(b"not parquet")
    assert _search(tmp_path, ("phone", "0612345678")) == ["row=2"]
    assert len(readers_open_at_conversion) == 2
    assert readers_open_at_conversion == [0, 0]
