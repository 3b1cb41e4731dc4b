"""Hostile and broken tabular files: refused by name, nothing hangs, nothing silent.

A FIFO named as (or matched like) a data file is refused by its kind instead of
blocking the search; a workbook whose ZIP directory promises a decompression bomb is
refused before it is inflated; a CSV with an unbalanced quote is read up to the
line where parsing stops, and that line is named.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from tabular_helpers import SIM_MAPPING, connector, keys, scan, workbook_bytes

from connectors.safe_files import ArchiveRefused, check_archive
from discover.errors import SourceError

HEADER = ["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"]


def _good_csv(number: str = "0612345678") -> str:
    return "ICCID,MSISDN,IMEI,Naam,E-mail,PUK\n" + f",{number},,Jan,,1\n"


# -- special files ----------------------------------------------------------------------


def test_a_fifo_named_as_the_file_fails_the_source_by_kind(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "sims.csv")
    target = connector(tmp_path, SIM_MAPPING, "sims.csv")
    with pytest.raises(SourceError, match=r"sims\.csv: cannot be read: cannot be opened \(a FIFO"):
        scan(target, ("phone", "0612345678"))


@pytest.mark.parametrize("name", ["b-pipe.csv", "b-pipe.xlsx"])
def test_a_fifo_among_the_files_is_one_files_warning(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-good.csv").write_text(_good_csv())
    os.mkfifo(folder / name)
    target = connector(tmp_path, SIM_MAPPING, "in/*")
    result = scan(target, ("phone", "0612345678"))
    assert keys(result) == ["row=2"]
    assert result.truncated is True
    assert result.warnings == [
        f"in/{name}: cannot be read: cannot be opened (a FIFO (named pipe), not a regular "
        "file); its rows were not searched"
    ]


# -- decompression bombs ----------------------------------------------------------------


def _bomb(size: int) -> bytes:
    """A real workbook whose sheet XML is padded with ``size`` blanks (inflates that much)."""
    good = workbook_bytes({"S": [HEADER, [None, "0612345678", None, "Jan", None, None]]})
    output = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                with target.open(item.filename, "w", force_zip64=True) as member:
                    head, _, tail = data.partition(b"<sheetData>")
                    member.write(head)
                    block = b" " * (1024 * 1024)
                    for _ in range(size // len(block)):
                        member.write(block)
                    member.write(b"<sheetData>" + tail)
            else:
                target.writestr(item, data)
    return output.getvalue()


def test_a_decompression_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """64 MiB of blanks in a ~70 KiB workbook: refused by its ratio, nothing inflated."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-good.csv").write_text(_good_csv())
    (folder / "b-bomb.xlsx").write_bytes(_bomb(64 * 1024 * 1024))
    target = connector(tmp_path, SIM_MAPPING, "in/*")
    result = scan(target, ("phone", "0612345678"))
    assert keys(result) == ["row=2"]
    assert [r.location for r in result.records] == ["in/a-good.csv"]
    assert result.truncated is True
    (warning,) = result.warnings
    assert warning.startswith("in/b-bomb.xlsx: cannot be read: cannot be opened (member ")
    assert "xl/worksheets/sheet1.xml" in warning and "a decompression bomb; not read" in warning


def test_a_workbook_declaring_too_much_is_refused(tmp_path: Path) -> None:
    """The total cap applies whatever the ratio; a normal workbook passes the defaults."""
    book = tmp_path / "sims.xlsx"
    book.write_bytes(workbook_bytes({"S": [HEADER]}))
    check_archive(book)
    with pytest.raises(ArchiveRefused, match=r"declares [\d,]+ bytes uncompressed \(limit 1,000\)"):
        check_archive(book, max_bytes=1000)


def test_the_ratio_limit_is_a_parameter(tmp_path: Path) -> None:
    """2 MiB of blanks compress about 1,000 : 1: over the default limit, not over 10,000."""
    (tmp_path / "sims.xlsx").write_bytes(_bomb(2 * 1024 * 1024))
    with pytest.raises(ArchiveRefused, match="expands"):
        check_archive(tmp_path / "sims.xlsx")
    check_archive(tmp_path / "sims.xlsx", max_ratio=10_000)


# -- an unbalanced quote ----------------------------------------------------------------


def test_an_unbalanced_quote_reads_the_rows_before_it_and_names_the_line(tmp_path: Path) -> None:
    """The whole source used to fail; now rows 2-3 are read and line 4 is named."""
    lines = [
        "ICCID,MSISDN,IMEI,Naam,E-mail,PUK",
        ",0612345678,,Jan,,1",
        ',0687654321,,"Zoë, van Dam",,1',
        ',0611111111,,"Piet,,1',
        ",0622222222,,Kees,,1",
    ]
    (tmp_path / "sims.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = connector(tmp_path, SIM_MAPPING, "sims.csv")
    result = scan(
        target,
        ("phone", "0612345678"),
        ("phone", "0687654321"),
        ("phone", "0622222222"),
    )
    assert keys(result) == ["row=2", "row=3"]
    assert result.truncated is True
    (warning,) = result.warnings
    assert warning.startswith("sims.csv: parsing stopped at line 4 (a quoted field is not closed")
    assert "the rows from line 4 on were not" in warning
    # a later round (the engine's next depth) reads the same rows again
    again = target.scan([result.records[0].matches[0].identifier])
    assert keys(again) == ["row=2"] and again.truncated is True


# -- names ------------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_read_and_shown_printably(tmp_path: Path) -> None:
    """polars cannot open such a name: the whole source used to fail with a TypeError."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-good.csv").write_text(_good_csv())
    with open(os.fsencode(folder) + b"/b-bad\xffname.csv", "w", encoding="utf-8") as handle:
        handle.write(_good_csv("0687654321"))
    book = workbook_bytes({"S": [HEADER, [None, "0611111111", None, "Kees", None, None]]})
    with open(os.fsencode(folder) + b"/c-bad\xfe.xlsx", "wb") as handle:
        handle.write(book)
    target = connector(tmp_path, SIM_MAPPING, "in/*")
    result = scan(target, ("phone", "0612345678"), ("phone", "0687654321"), ("phone", "0611111111"))
    assert sorted(r.location for r in result.records) == [
        "in/a-good.csv",
        "in/b-bad\\xffname.csv",
        "in/c-bad\\xfe.xlsx#S",
    ]
    assert result.warnings == [] and result.truncated is False


def test_a_link_loop_among_the_files_is_one_files_warning(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-good.csv").write_text(_good_csv())
    (folder / "b-loop.csv").symlink_to(folder / "b-loop.csv")
    target = connector(tmp_path, SIM_MAPPING, "in/*")
    result = scan(target, ("phone", "0612345678"))
    assert keys(result) == ["row=2"]
    assert result.truncated is True
    (warning,) = result.warnings
    assert warning.startswith("in/b-loop.csv: cannot be read: cannot be opened (Too many levels")


def test_a_forged_directory_understating_the_sizes_is_caught_by_inflating(
    tmp_path: Path,
) -> None:
    """Declared 4 KiB, inflates to 4 MiB: the ratio looks harmless, the inflation does not."""
    import struct

    real = 4 * 1024 * 1024
    honest = _bomb(real)
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    assert sheet.file_size > real
    forged = honest
    for size in ("<Q", "<I"):  # the local header's zip64 field, the directory's own
        forged = forged.replace(struct.pack(size, sheet.file_size), struct.pack(size, 4096))
    assert forged != honest
    path = tmp_path / "forged.xlsx"
    path.write_bytes(forged)
    with pytest.raises(ArchiveRefused, match=r"inflates beyond its declared 4,096 bytes"):
        check_archive(path)
