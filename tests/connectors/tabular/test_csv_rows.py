"""Rows of a CSV file read by their place, and a file split into parts: the same
records polars reads, or nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tabular_helpers import connector, ids, keys, scan

import connectors.tabular.csv_rows as csv_rows
from connectors.tabular.csv_rows import Untrusted, read_records, record_parts

TRICKY = (
    b"Export 2026\r\n"
    b"ID,Naam,MSISDN\r\n"
    b'1,"de Vries, Jan",0612345678\r\n'
    b"\r\n"
    b'2,"Fatima ""Fa"" \nEl Amrani",0687654321\n'
    b"3,Zo\xc3\xab,0611111111\n"
    b",,\n"
    b'4,"a\n\nb",0622222222\n'
    b"5,Last,0633333333"
)


def _polars_rows(data: bytes, header_records: int) -> list[tuple[str | None, ...]]:
    frame = pl.scan_csv(  # as connectors.tabular.read scans a CSV
        data,
        has_header=False,
        skip_rows=header_records,
        schema={"c0": pl.String, "c1": pl.String, "c2": pl.String},
        truncate_ragged_lines=True,
        raise_if_empty=False,
    )
    return frame.collect().rows()


@pytest.mark.parametrize("chunk", [3, 7, 64, 1 << 20])
def test_each_record_read_alone_is_the_row_polars_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Quoted line breaks, doubled quotes, blank lines, CRLF, no final line break."""
    monkeypatch.setattr(csv_rows, "CHUNK", chunk)  # record boundaries across chunks
    path = tmp_path / "log.csv"
    path.write_bytes(TRICKY)
    expected = _polars_rows(TRICKY, 2)
    records = read_records(path, 2, '"', range(len(expected)))
    assert records is not None and records.count == len(expected) == 7
    assert records.header == b"Export 2026\r\nID,Naam,MSISDN\r\n"
    for index, row in enumerate(expected):
        # read after the first record, as the connector reads them (polars takes the
        # number of fields from the first row)
        first = b"" if index == 0 else records.rows[0]
        alone = _polars_rows(records.header + first + records.rows[index], 2)
        assert alone[-1] == row, index


#: TRICKY with characters whose UTF-16 code units hold a newline's or a quote's byte
#: (U+0A22, U+220A, U+010A) and one beyond the BMP (a surrogate pair)
WIDE = (
    TRICKY.decode("utf-8").replace("Jan", "J\u0a22n \u220a\u010a").replace("Last", "L\U0001f600st")
)


@pytest.mark.parametrize("chunk", [3, 7, 64, 1 << 20])
@pytest.mark.parametrize(("encoding", "unit"), [("utf-16", "<u2"), ("utf-16-be", ">u2")])
def test_the_records_of_a_utf16_file_are_found_a_code_unit_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, encoding: str, unit: str
) -> None:
    """Excel's "Unicode text": a line break and a quote are two bytes. Each record read
    alone decodes to the record the UTF-8 file holds (chunks cut surrogate pairs and
    code units: an odd chunk is read one byte shorter)."""
    monkeypatch.setattr(csv_rows, "CHUNK", chunk)
    data = WIDE.encode(encoding)
    assert csv_rows.utf16_unit(encoding, data) == unit
    path = tmp_path / "log.csv"
    path.write_bytes(data)
    expected = read_records(_written(tmp_path / "utf8.csv", WIDE.encode()), 2, '"', range(7))
    records = read_records(path, 2, '"', range(7), unit)
    assert records is not None and expected is not None and records.count == 7
    assert records.header.decode(encoding) == expected.header.decode()
    for index in range(7):
        decoded = (records.header + records.rows[index]).decode(encoding)
        assert decoded == (expected.header + expected.rows[index]).decode(), index


def test_a_utf16_file_cut_inside_a_character_is_not_read_by_place(tmp_path: Path) -> None:
    path = _written(tmp_path / "log.csv", WIDE.encode("utf-16") + b"\x00")
    assert read_records(path, 2, '"', [0], "<u2") is None


def test_the_byte_order_of_utf16_is_the_encoding_s_else_the_mark_s() -> None:
    assert csv_rows.utf16_unit("utf-16", b"\xfe\xff\x00a") == ">u2"
    assert csv_rows.utf16_unit("UTF16", b"\xff\xfea\x00") == "<u2"
    assert csv_rows.utf16_unit("utf-16-le", b"\xfe\xff") == "<u2"  # as Python decodes it
    assert csv_rows.utf16_unit("cp1252", b"\xff\xfe") is None


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_only_the_wanted_records_are_returned(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(TRICKY)
    records = read_records(path, 2, '"', [4, 6, 99])
    assert records is not None and sorted(records.rows) == [4, 6]
    assert records.rows[6] == b"5,Last,0633333333"


def test_a_file_shorter_than_its_header(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"Export 2026\n")
    assert read_records(path, 2, '"', [0]) is None


@pytest.mark.parametrize("chunk", [3, 7, 64, 1 << 20])
@pytest.mark.parametrize("size", [48, 96, 1 << 20])
@pytest.mark.parametrize("ending", [b"", b"\n", b"\n\n"])
def test_the_parts_of_a_file_are_its_rows_as_polars_reads_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, size: int, ending: bytes
) -> None:
    """Each part parsed alone (after the header and the first data record) gives the
    rows of the whole file's parse, in order, as many as the part says."""
    monkeypatch.setattr(csv_rows, "CHUNK", chunk)
    data = TRICKY + ending
    path = tmp_path / "log.csv"
    path.write_bytes(data)
    rows: list[tuple[str | None, ...]] = []
    parts = list(record_parts(path, 2, '"', size))
    for part in parts:
        assert part.data.startswith(b"Export 2026\r\nID,Naam,MSISDN\r\n")
        assert part.start == len(rows) and part.skip == (1 if part.start else 0)
        parsed = _polars_rows(part.data, 2)[part.skip :]
        assert len(parsed) == part.count
        rows += parsed
    assert rows == _polars_rows(data, 2)
    if chunk < 64 and size < 64:  # a part is cut where a chunk holds a record's end
        assert len(parts) >= 2


def test_a_file_that_ends_inside_a_quote_cannot_be_split(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(TRICKY + b'\n6,"open,0644444444\n7,x,0655555555\n')
    with pytest.raises(Untrusted, match="inside a quoted field"):
        list(record_parts(path, 2, '"', 48))


def test_a_record_longer_than_a_few_parts_cannot_be_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quote that never closes reads as one record: it is not held in memory."""
    monkeypatch.setattr(csv_rows, "CHUNK", 8)
    path = tmp_path / "log.csv"
    path.write_bytes(b'ID,Naam\n1,"' + b"x\n" * 200 + b'"\n2,y\n')
    with pytest.raises(Untrusted, match="no record boundary"):
        list(record_parts(path, 1, '"', 32))


def test_a_file_shorter_than_its_header_cannot_be_split(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"Export 2026\r")
    with pytest.raises(Untrusted, match="fewer records than its header"):
        list(record_parts(path, 2, '"', 16))


def test_a_file_that_grows_while_it_is_split_cannot_be(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(TRICKY + b"\n")
    parts = record_parts(path, 2, '"', 16)
    next(parts)
    with path.open("ab") as handle:
        handle.write(b"6,More,0644444444\n")
    with pytest.raises(Untrusted, match="changed while it was read"):
        list(parts)


SIMS = {
    "version": 1,
    "kind": "tabular",
    "category": "mobile.notifications",
    "entity": "event",
    "key": "id",
    "columns": {"id": None, "msisdn": {"identifier": "phone"}, "text": None},
    "headers": {"id": "ID", "msisdn": "MSISDN", "text": "Tekst"},
}


def test_an_indexed_search_reads_the_rows_by_place_and_answers_as_a_full_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["ID,MSISDN,Tekst"]
    lines += [f'M-{n},06{n:08d},"regel\n{n}"' for n in range(500)]
    lines.append("M-7,0699999999,twin of a key")  # a repeated key, far from the rows read
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    read: list[int] = []
    real = csv_rows.read_records

    def counting(path: Path, header: int, quote: str | None, wanted: object, *unit: str) -> object:
        read.append(len(list(wanted)))  # type: ignore[call-overload]
        return real(path, header, quote, wanted, *unit)  # type: ignore[arg-type]

    monkeypatch.setattr("connectors.tabular.read.read_records", counting)
    indexed = connector(tmp_path, SIMS, "log.csv", index_cache=str(tmp_path / "cache"))
    full = connector(tmp_path, SIMS, "log.csv", index=False)
    for phone in ("0600000007", "0600000123", "0699999999"):
        wanted = ids(("phone", phone))
        assert keys(scan(indexed, *[("phone", phone)])) == keys(full.scan(wanted)), phone
    assert read and all(count <= 2 for count in read)  # a row or two, not the file
    assert keys(scan(indexed, ("phone", "0600000007"))) == ["row=9"]  # key M-7 repeated


def test_a_file_whose_records_polars_counts_otherwise_is_read_whole(tmp_path: Path) -> None:
    """A stray quote: boundaries by quote parity differ from polars: no rows by place."""
    text = 'ID,MSISDN,Tekst\nM-1,0612345678,5" screen\nM-2,0687654321,ok\nM-3,0611111111,"x"\n'
    (tmp_path / "log.csv").write_text(text)
    indexed = connector(tmp_path, SIMS, "log.csv", index_cache=str(tmp_path / "cache"))
    full = connector(tmp_path, SIMS, "log.csv", index=False)
    for phone in ("0612345678", "0687654321", "0611111111"):
        assert keys(scan(indexed, ("phone", phone))) == keys(full.scan(ids(("phone", phone))))
