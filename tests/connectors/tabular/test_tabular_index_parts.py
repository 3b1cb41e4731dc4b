"""A CSV file's index built a part at a time is the index of the whole file.

Each file is indexed twice by the connector, once whole (parts larger than the file)
and once in parts of a few hundred bytes (and chunks of a few bytes, so that record
boundaries, quotes and line breaks fall across both): what is stored must be the
same, row numbers, damage warnings, repeated keys and relation keys included. Files
the parts cannot be trusted with are indexed whole, and still right.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tabular_helpers import connector, ids, keys
from test_tabular import JAN_ICCID, ROUNDED_AS_FLOAT, ZOE_ICCID

import connectors.tabular.connector as tabular_connector
import connectors.tabular.csv_rows as csv_rows
import connectors.tabular.read as tabular_read
from connectors.tabular import store
from connectors.tabular.connector import TabularConnector
from discover.errors import SourceError

MAPPING: dict[str, Any] = {
    "version": 1,
    "kind": "tabular",
    "category": "mobile.sim",
    "entity": "event",
    "key": "id",
    "read": {"header_row": 2, "header_rows": 2},
    "columns": {
        "id": None,
        "msisdn": {"identifier": "phone"},
        "iccid": {"identifier": "iccid"},
        "email": {"identifier": "email"},
        "object": None,
        "text": None,
    },
    "headers": {
        "id": "ID",
        "msisdn": "MSISDN",
        "iccid": "ICCID",
        "email": "E-mail",
        "object": "Object",
        "text": "Tekst",
    },
    "relations": [{"same": "object", "third_party": True, "label": "same object"}],
}
#: a title line, then a two-row header (a group over two columns)
HEADER = ["Export 2026", "Nr,SIM,,Contact,,", "ID,MSISDN,ICCID,E-mail,Object,Tekst"]


def _row(number: int, iccid: str = "", key: str | None = None) -> str:
    """A data row whose text holds quotes, a separator and a line break."""
    return (
        f"{f'M-{number}' if key is None else key},06{number:08d},{iccid},p{number}@example.nl,"
        f'OBJ-{number % 7},"regel ""{number}"",\nnog een regel"'
    )


def _write(path: Path, rows: list[str], *, newline: str = "\n", bom: bool = False) -> None:
    text = newline.join([*HEADER, *rows]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


@dataclasses.dataclass
class Built:
    """An index entry, how many parts it was read in and whether it was read whole."""

    entry: store.FileEntry
    parts: int
    whole: bool

    def stored_keys(self) -> list[tuple[int, int, int]]:
        return sorted(
            (sheet, key, row)
            for sheet, frame in self.entry.keys.items()
            for key, row in frame.select("key", "row").iter_rows()
        )

    def sheets(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(sheet) for sheet in self.entry.sheets]


def _build(
    target: TabularConnector, path: Path, monkeypatch: pytest.MonkeyPatch, part: int
) -> Built:
    """The connector's index entry of ``path``, read in parts of ``part`` bytes."""
    monkeypatch.setattr(csv_rows, "PART", part)
    counted = {"parts": 0, "whole": 0}
    splitter = csv_rows.record_parts
    whole = TabularConnector._index_whole

    def counting_parts(*args: Any, **kwargs: Any) -> Iterator[csv_rows.Part]:
        for found in splitter(*args, **kwargs):
            counted["parts"] += 1
            yield found

    def counting_whole(self: TabularConnector, *args: Any) -> Any:
        counted["whole"] += 1
        return whole(self, *args)

    with monkeypatch.context() as patched:
        patched.setattr(tabular_read, "record_parts", counting_parts)
        patched.setattr(TabularConnector, "_index_whole", counting_whole)
        target.close()
        entry = target._index_file(path, store.stamp_of(path))  # type: ignore[arg-type]
    return Built(entry, counted["parts"], bool(counted["whole"]))


def _both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "log.csv", part: int = 300
) -> tuple[Built, Built]:
    """The file indexed whole, then in parts (chunks of 7 bytes)."""
    target = connector(tmp_path, MAPPING, name, index_cache=str(tmp_path / "cache"))
    whole = _build(target, tmp_path / name, monkeypatch, 1 << 30)
    assert whole.parts == 0 and whole.whole
    monkeypatch.setattr(csv_rows, "CHUNK", 7)
    return whole, _build(target, tmp_path / name, monkeypatch, part)


def _assert_same(whole: Built, parts: Built) -> None:
    assert parts.sheets() == whole.sheets()
    assert parts.stored_keys() == whole.stored_keys()
    assert parts.entry.reread == whole.entry.reread


@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r\n", True)])
def test_parts_give_the_index_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, bom: bool
) -> None:
    """Quoted line breaks at part boundaries, blank lines, a BOM, a two-row header."""
    rows = [_row(n) for n in range(60)]
    rows[10:10] = [""]  # a blank line: a row of its own, as polars reads it
    rows[40:40] = ["", ""]
    _write(tmp_path / "log.csv", rows, newline=newline, bom=bom)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.parts > 5 and not parts.whole
    _assert_same(whole, parts)
    (sheet,) = parts.entry.sheets
    assert sheet.rows == 63 and sheet.damage == {}
    assert sheet.repeated == [10, 40, 41]  # the blank rows: their keys are empty
    # the last row's number is its place in the file: the parts' rows are offset
    assert max(row for _, _, row in parts.stored_keys()) == 62


def test_a_key_repeated_in_other_parts_and_empty_keys_are_repeated_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [_row(n) for n in range(50)]
    rows[45] = _row(45, key="M-3")  # the key of row 3, far away
    rows[20] = _row(20, key=" ")  # empty, as is the next one
    rows[30] = _row(30, key="")
    _write(tmp_path / "log.csv", rows)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.parts > 5 and not parts.whole
    _assert_same(whole, parts)
    assert parts.entry.sheets[0].repeated == [3, 20, 30, 45]


def test_many_repeated_keys_are_read_again_a_part_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows of repeated keys than are read again by their place."""
    monkeypatch.setattr(tabular_connector, "_READ_BY_PLACE", 3)
    rows = [_row(n, key=f"M-{n % 9}") for n in range(40)]
    _write(tmp_path / "log.csv", rows)
    whole, parts = _both(tmp_path, monkeypatch)
    assert not parts.whole
    _assert_same(whole, parts)
    assert parts.entry.sheets[0].repeated == list(range(40))


def test_damaged_values_in_several_parts_are_counted_and_shown_as_in_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [_row(n, iccid=JAN_ICCID if n == 1 else "") for n in range(60)]
    for number in (5, 17, 29, 33, 41, 58):
        rows[number] = _row(number, iccid="8.93104E+18")
    _write(tmp_path / "log.csv", rows)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.parts > 5 and not parts.whole
    _assert_same(whole, parts)
    warning = parts.entry.sheets[0].damage["iccid"]
    assert "6 value(s)" in warning and "rows 9, 21, 33, 37, 45 …" in warning


@pytest.mark.parametrize("later", [True, False])
def test_the_iccid_text_column_test_is_decided_by_every_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: bool
) -> None:
    """An ICCID that is exactly a double is damage unless the column holds an ICCID
    no float prints: here only a late part does."""
    rows = [_row(n, iccid=ROUNDED_AS_FLOAT if n % 10 == 2 else "") for n in range(60)]
    if later:
        rows[57] = _row(57, iccid=ZOE_ICCID)
    _write(tmp_path / "log.csv", rows)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.parts > 5 and not parts.whole
    _assert_same(whole, parts)
    (sheet,) = parts.entry.sheets
    assert sheet.text_columns == {"iccid": later}
    assert ("iccid" in sheet.damage) is not later


@pytest.mark.parametrize("strays", [(25,), (25, 27)])
def test_a_stray_quote_is_indexed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strays: tuple[int, ...]
) -> None:
    """Quotes paired by parity are not the records polars reads: the parts are not
    used, and the file is indexed as the whole file's reading gives it (two stray
    quotes pair up: only the number of rows polars reads from a part tells)."""
    rows = [_row(n) for n in range(40)]
    for number in strays:
        rows[number] = f'M-{number},06{number:08d},,p{number}@example.nl,OBJ-4,a 5" screen'
    _write(tmp_path / "log.csv", rows)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.whole and whole.entry.reread  # polars stops at it: read by every search
    _assert_same(whole, parts)


def test_a_part_whose_rows_polars_counts_otherwise_is_indexed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part said to hold one record more than polars reads from it is not used."""
    _write(tmp_path / "log.csv", [_row(n) for n in range(40)])
    splitter = csv_rows.record_parts

    def miscounted(*args: Any, **kwargs: Any) -> Iterator[csv_rows.Part]:
        for number, found in enumerate(splitter(*args, **kwargs)):
            yield dataclasses.replace(found, count=found.count + (number == 2))

    monkeypatch.setattr(csv_rows, "record_parts", miscounted)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.parts > 2 and parts.whole
    _assert_same(whole, parts)
    assert parts.entry.sheets[0].rows == 40


def test_a_quote_left_open_at_the_end_is_indexed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """polars fails on the whole file: it is read by every search, as before."""
    rows = [_row(n) for n in range(40)]
    rows.append('M-40,0600000040,,p40@example.nl,OBJ-5,"never closed')
    _write(tmp_path / "log.csv", rows)
    whole, parts = _both(tmp_path, monkeypatch)
    assert parts.whole and whole.entry.reread
    _assert_same(whole, parts)


def test_a_file_that_changes_while_read_in_parts_is_indexed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.csv"
    _write(path, [_row(n) for n in range(40)])
    splitter = csv_rows.record_parts

    def growing(*args: Any, **kwargs: Any) -> Iterator[csv_rows.Part]:
        for number, found in enumerate(splitter(*args, **kwargs)):
            if number == 1:
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(_row(40) + "\n")
            yield found

    monkeypatch.setattr(csv_rows, "record_parts", growing)
    monkeypatch.setattr(csv_rows, "CHUNK", 7)
    target = connector(tmp_path, MAPPING, "log.csv", index_cache=str(tmp_path / "cache"))
    changed = _build(target, path, monkeypatch, 300)
    assert changed.whole and changed.entry.sheets[0].rows == 41


def test_a_file_in_a_single_byte_encoding_is_indexed_in_parts_and_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cp1252 (Excel's CSV on Dutch Windows) writes every character as one byte: its
    records are cut in the bytes, each part transcoded on its own, and the index is
    the whole file's. A search reads the subject's rows by their place, as in UTF-8."""
    mapping = {**MAPPING, "read": {**MAPPING["read"], "encoding": "cp1252"}}
    rows = [_row(n).replace("regel", "régel €") for n in range(40)]
    text = "\r\n".join([*HEADER, *rows]) + "\r\n"
    (tmp_path / "log.csv").write_bytes(text.encode("cp1252"))
    target = connector(tmp_path, mapping, "log.csv", index_cache=str(tmp_path / "cache"))
    whole = _build(target, tmp_path / "log.csv", monkeypatch, 1 << 30)
    assert whole.whole and whole.parts == 0
    monkeypatch.setattr(csv_rows, "CHUNK", 7)
    parts = _build(target, tmp_path / "log.csv", monkeypatch, 300)
    assert parts.parts > 3 and not parts.whole
    _assert_same(whole, parts)
    assert parts.entry.sheets[0].rows == 40
    target.build_index()
    indexed = target.scan(ids(("phone", "0600000031")))
    assert keys(indexed, third_party=False) == ["id=M-31"]
    assert keys(indexed) == keys(target._scan(ids(("phone", "0600000031"))))
    (record,) = [r for r in indexed.records if r.key == "id=M-31"]
    assert any("régel €" in str(value.value) for value in record.fields)


def test_a_file_in_utf_16_is_indexed_whole_and_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UTF-16 writes a line break as two bytes: not cut in parts."""
    mapping = {**MAPPING, "read": {**MAPPING["read"], "encoding": "utf-16"}}
    rows = [_row(n).replace("regel", "régel") for n in range(40)]
    text = "\r\n".join([*HEADER, *rows]) + "\r\n"
    (tmp_path / "log.csv").write_bytes(text.encode("utf-16"))
    target = connector(tmp_path, mapping, "log.csv", index_cache=str(tmp_path / "cache"))
    built = _build(target, tmp_path / "log.csv", monkeypatch, 300)
    assert built.whole and built.parts == 0 and built.entry.sheets[0].rows == 40
    indexed = target.scan(ids(("phone", "0600000031")))
    assert keys(indexed, third_party=False) == ["id=M-31"]


def test_a_byte_the_encoding_does_not_know_is_named_with_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte cp1252 leaves undefined (0x81) past the part of the file looked at first
    is named with its place: the file is checked a megabyte at a time (here 7 bytes),
    not decoded whole, and the search says so instead of reading wrong text."""
    monkeypatch.setattr(tabular_read, "_SNIFF_BYTES", 200)
    monkeypatch.setattr(csv_rows, "CHUNK", 7)
    mapping = {**MAPPING, "read": {**MAPPING["read"], "encoding": "cp1252"}}
    data = ("\n".join([*HEADER, *[_row(n) for n in range(40)]]) + "\n").encode("cp1252")
    place = data.index(b"M-20")
    (tmp_path / "log.csv").write_bytes(data[:place] + b"\x81" + data[place:])
    target = connector(tmp_path, mapping, "log.csv", index_cache=str(tmp_path / "cache"))
    with pytest.raises(SourceError, match=rf"not cp1252 text \(byte {place}\)"):
        target.scan(ids(("phone", "0600000031")))


def test_a_search_through_an_index_built_in_parts_answers_as_a_full_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_rows, "PART", 300)
    rows = [_row(n) for n in range(60)]
    rows[45] = _row(45, key="M-3")
    _write(tmp_path / "log.csv", rows, newline="\r\n")
    target = connector(tmp_path, MAPPING, "log.csv", index_cache=str(tmp_path / "cache"))
    assert target.build_index().rows == 60
    for kind, value in (("phone", "0600000003"), ("email", "p52@example.nl")):
        wanted = ids((kind, value))
        indexed = target.scan(wanted)
        full = target._scan(wanted)
        assert keys(indexed) == keys(full) and keys(indexed), value
        assert keys(indexed, third_party=True) == keys(full, third_party=True)
    assert keys(target.scan(ids(("phone", "0600000003"))), third_party=False) == ["row=7"]


# -- a one-byte encoding's check, remembered by the index ---------------------------------

CP1252 = {**MAPPING, "read": {**MAPPING["read"], "encoding": "cp1252"}}


def _cp1252_log(path: Path, count: int) -> bytes:
    """A cp1252 log whose rows hold characters of several bytes in UTF-8."""
    rows = [_row(n).replace("regel", "régel €") for n in range(count)]
    data = ("\r\n".join([*HEADER, *rows]) + "\r\n").encode("cp1252")
    path.write_bytes(data)
    return data


def _counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files whose every byte is checked, in order, from now on."""
    checked: list[Path] = []
    check = tabular_read._check_decodes

    def counting(path: Path, encoding: str) -> None:
        checked.append(path)
        check(path, encoding)

    monkeypatch.setattr(tabular_read, "_check_decodes", counting)
    return checked


def _answer(result: Any) -> tuple[Any, ...]:
    """What a search answers: records (key, third party, values), warnings, truncation."""
    records = sorted(
        (record.key, record.third_party, tuple(str(value.value) for value in record.fields))
        for record in result.records
    )
    return records, sorted(result.warnings), result.truncated


@pytest.mark.parametrize("index", [False, True])
def test_a_cp1252_file_whose_name_is_not_utf8_is_transcoded_when_read_whole(
    tmp_path: Path, index: bool
) -> None:
    """polars opens a file by a UTF-8 name only: such a file's bytes are handed to it,
    and in cp1252 they are transcoded first, as for any other name."""
    _cp1252_log(tmp_path / os.fsdecode(b"log-\xe9t\xe9.csv"), 40)
    options = {"index_cache": str(tmp_path / "cache")} if index else {"index": False}
    target = connector(tmp_path, CP1252, "*.csv", **options)
    found = target.scan(ids(("phone", "0600000031")))
    (record,) = [r for r in found.records if r.key == "id=M-31"]
    assert any("régel €" in str(value.value) for value in record.fields)


def test_a_warm_search_of_an_unchanged_file_does_not_check_its_bytes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index keeps that every byte of a cp1252 file decoded when it was indexed, for
    the file as stamped: a search of the same file (another process's too) reads the
    subject's rows without checking the whole file again, and answers as a full read."""
    monkeypatch.setattr(csv_rows, "PART", 300)  # indexed in parts, as a large log is
    path = tmp_path / "log.csv"
    _cp1252_log(path, 40)
    checked = _counting_checks(monkeypatch)
    target = connector(tmp_path, CP1252, "log.csv", index_cache=str(tmp_path / "cache"))
    assert target.build_index().rows == 40
    assert checked == [path]  # the build reads the file whole: checked once
    (entry,) = target.file_index().entries().values()  # type: ignore[union-attr]
    assert [sheet.decodes for sheet in entry.sheets] == [True]
    wanted = ids(("phone", "0600000031"))
    warm = target.scan(wanted)
    again = connector(tmp_path, CP1252, "log.csv", index_cache=str(tmp_path / "cache"))
    assert _answer(again.scan(wanted)) == _answer(warm)
    assert checked == [path]  # neither search checked it
    assert keys(warm, third_party=False) == ["id=M-31"]
    full = connector(tmp_path, CP1252, "log.csv", index=False).scan(wanted)
    assert _answer(warm) == _answer(full)
    assert checked == [path, path]  # a search without the index checks, as before


def test_a_changed_file_is_checked_again_when_it_is_indexed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.csv"
    data = _cp1252_log(path, 40)
    checked = _counting_checks(monkeypatch)
    target = connector(tmp_path, CP1252, "log.csv", index_cache=str(tmp_path / "cache"))
    target.build_index()
    path.write_bytes(data + _row(40).replace("regel", "régel").encode("cp1252") + b"\r\n")
    found = target.scan(ids(("phone", "0600000040")))
    assert keys(found, third_party=False) == ["id=M-40"]
    assert checked == [path, path]  # the build, then the build of the changed file
    target.scan(ids(("phone", "0600000040")))
    assert checked == [path, path]


def test_a_file_changed_to_hold_a_byte_the_encoding_does_not_know_is_reported_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte cp1252 leaves undefined (0x81) written into an indexed file (past the part
    looked at first): the search names it with its place, as one without the index."""
    monkeypatch.setattr(tabular_read, "_SNIFF_BYTES", 200)
    path = tmp_path / "log.csv"
    data = _cp1252_log(path, 40)
    target = connector(tmp_path, CP1252, "log.csv", index_cache=str(tmp_path / "cache"))
    assert keys(target.scan(ids(("phone", "0600000031"))), third_party=False) == ["id=M-31"]
    place = data.index(b"M-20")
    path.write_bytes(data[:place] + b"\x81" + data[place:])
    message = rf"not cp1252 text \(byte {place}\)"
    with pytest.raises(SourceError, match=message):
        target.scan(ids(("phone", "0600000031")))
    with pytest.raises(SourceError, match=message):  # and again: it is read by every search
        target.scan(ids(("phone", "0600000031")))
    with pytest.raises(SourceError, match=message):
        connector(tmp_path, CP1252, "log.csv", index=False).scan(ids(("phone", "0600000031")))


def test_a_file_changed_after_the_index_was_brought_up_to_date_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stamp is compared again when the file is opened: a file that changes between
    the index's update and the read of its rows is checked as before."""
    monkeypatch.setattr(tabular_read, "_SNIFF_BYTES", 200)
    path = tmp_path / "log.csv"
    data = _cp1252_log(path, 40)
    checked = _counting_checks(monkeypatch)
    target = connector(tmp_path, CP1252, "log.csv", index_cache=str(tmp_path / "cache"))
    target.build_index()
    place = data.index(b"M-20")
    scan = TabularConnector._scan

    def changed_meanwhile(self: TabularConnector, *args: Any) -> Any:
        path.write_bytes(data[:place] + b"\x81" + data[place + 1 :])  # the same size
        return scan(self, *args)

    monkeypatch.setattr(TabularConnector, "_scan", changed_meanwhile)
    with pytest.raises(SourceError, match=rf"not cp1252 text \(byte {place}\)"):
        target.scan(ids(("phone", "0600000031")))
    assert checked == [path, path]


def test_a_change_the_stamp_misses_is_still_reported_when_its_rows_are_read(
    tmp_path: Path,
) -> None:
    """The stamp's known limit: a same-size change in the middle of a file over 128 KiB,
    its modification time put back, is not seen, and the file's bytes are not checked
    again. Reading the rows that hold the unknown byte still names it, with its place."""
    path = tmp_path / "log.csv"
    data = _cp1252_log(path, 4000)
    assert len(data) > 3 * store._SAMPLE
    target = connector(tmp_path, CP1252, "log.csv", index_cache=str(tmp_path / "cache"))
    target.build_index()
    before = path.stat()
    place = data.index(b"M-2000,")
    with path.open("r+b") as handle:  # in place: the same inode
        handle.seek(place)
        handle.write(b"\x81")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert store.stamp_of(path) == target.file_index().entries()[str(path)].stamp  # type: ignore[union-attr]
    elsewhere = target.scan(ids(("phone", "0600000031")))  # its rows do not hold it
    assert keys(elsewhere, third_party=False) == ["id=M-31"]
    with pytest.raises(SourceError, match=rf"not cp1252 text \(byte {place}\)"):
        target.scan(ids(("email", "p2000@example.nl")))


# -- UTF-16: rows read by the place of their records too ------------------------------------

UTF16 = {**MAPPING, "read": {**MAPPING["read"], "encoding": "utf-16"}}


def _utf16_log(path: Path, count: int, byte_order: str) -> bytes:
    """A UTF-16 log with its byte-order mark, whose rows hold characters whose code units
    hold a newline's or a quote's byte (U+0A22, U+220A) and one beyond the BMP."""
    rows = [_row(n).replace("regel", "r\u0a22gel \u220a \U0001f600") for n in range(count)]
    data = ("\ufeff" + "\r\n".join([*HEADER, *rows]) + "\r\n").encode(byte_order)
    path.write_bytes(data)
    return data


def _counting_whole_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files read whole into memory (as they are, or in UTF-8), from now on."""
    read: list[Path] = []
    for name in ("_file_bytes", "_transcoded"):
        whole = getattr(tabular_read, name)

        def counting(path: Path, *encoding: str, whole: Any = whole) -> bytes:
            read.append(path)
            return whole(path, *encoding)  # type: ignore[no-any-return]

        monkeypatch.setattr(tabular_read, name, counting)
    return read


@pytest.mark.parametrize("byte_order", ["utf-16-le", "utf-16-be"])
def test_a_warm_search_of_a_utf16_file_reads_its_rows_by_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, byte_order: str
) -> None:
    """Excel's "Unicode text" export: the index is built from the whole file, but a
    search through it reads the subject's records by their place (a code unit of two
    bytes at a time), neither reading the file whole nor checking all its bytes, and
    answers as a full read."""
    monkeypatch.setattr(csv_rows, "CHUNK", 64)  # records and characters across chunks
    path = tmp_path / "log.csv"
    _utf16_log(path, 40, byte_order)
    target = connector(tmp_path, UTF16, "log.csv", index_cache=str(tmp_path / "cache"))
    assert target.build_index().rows == 40
    read, checked = _counting_whole_reads(monkeypatch), _counting_checks(monkeypatch)
    for wanted in (ids(("phone", "0600000031")), ids(("email", "p5@example.nl"))):
        warm = target.scan(wanted)
        assert (read, checked) == ([], [])
        full = connector(tmp_path, UTF16, "log.csv", index=False).scan(wanted)
        assert read  # a full read transcodes the file whole
        assert _answer(warm) == _answer(full) and keys(warm, third_party=True)
        read.clear()
        checked.clear()
    (record,) = [r for r in warm.records if r.key == "id=M-5"]
    assert any("r\u0a22gel \u220a \U0001f600" in str(value.value) for value in record.fields)


def test_a_utf16_file_changed_to_hold_a_lone_surrogate_is_reported_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular_read, "_SNIFF_BYTES", 200)
    path = tmp_path / "log.csv"
    data = _utf16_log(path, 40, "utf-16-le")
    target = connector(tmp_path, UTF16, "log.csv", index_cache=str(tmp_path / "cache"))
    assert keys(target.scan(ids(("phone", "0600000031"))), third_party=False) == ["id=M-31"]
    place = data.index("M-20".encode("utf-16-le"))
    path.write_bytes(data[:place] + b"\x00\xdc" + data[place:])  # a low surrogate alone
    message = rf"not utf-16 text \(byte {place}\)"
    with pytest.raises(SourceError, match=message):
        target.scan(ids(("phone", "0600000031")))
    with pytest.raises(SourceError, match=message):
        connector(tmp_path, UTF16, "log.csv", index=False).scan(ids(("phone", "0600000031")))


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
@pytest.mark.parametrize("index", [False, True])
def test_a_file_cut_off_in_its_last_row_is_read_up_to_it_in_any_encoding(
    tmp_path: Path, encoding: str, index: bool
) -> None:
    """The cut falls on the last line break in the file's text, whatever bytes a line
    break takes; the rows before it are found, and the cut is reported."""
    rows = [_row(n).replace("regel", "régel €") for n in range(10)]
    text = "\r\n".join([*HEADER, *rows]) + "\r\nM-10,06000000"  # the last row cut off
    (tmp_path / "log.csv").write_bytes(text.encode(encoding))
    mapping = {**MAPPING, "read": {**MAPPING["read"], "encoding": encoding}}
    options = {"index_cache": str(tmp_path / "cache")} if index else {"index": False}
    for _search in range(2):  # indexed: built, then warm
        found = connector(tmp_path, mapping, "log.csv", **options).scan(
            ids(("phone", "0600000009"))
        )
        assert keys(found, third_party=False) == ["id=M-9"] and found.truncated
        assert any("ends in the middle of a row" in warning for warning in found.warnings)
        (record,) = [r for r in found.records if r.key == "id=M-9"]
        assert any("régel €" in str(value.value) for value in record.fields)
