"""Tabular connector: real CSV, XLSX (openpyxl, xlsxwriter) and Parquet files.

Every fixture is written by a real writer into the test's own directory; the
connector is built from a real sources file and mapping, the way the engine builds it.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from stdnum import luhn
from tabular_helpers import SIM_MAPPING, connector, ids, keys, scan, workbook_bytes

from connectors.base import WITHHELD
from discover.errors import SourceError

JAN_ICCID = "8931041012345678902"
ZOE_ICCID = "8931041012345678910"
#: an ICCID whose nearest double prints as another Luhn-valid ICCID
ROUNDED_ICCID = "8931041012345674257"
ROUNDED_AS_FLOAT = "8931041012345674752"
JAN_IMEI = "352099001761481"
ZOE_IMEI = "353325091234561"
_ZERO_BODY = "01345678901234"
ZERO_IMEI = _ZERO_BODY[:14] + luhn.calc_check_digit(_ZERO_BODY[:14])


def traps_workbook() -> bytes:
    """An inventory with the spreadsheet traps, written by openpyxl.

    Row 1 a merged banner, row 2 empty, rows 3-4 a two-row header with merged group
    cells, empty rows between data rows, trailing spaces, a mobile number that lost
    its leading zero, ICCIDs typed as numbers, an IMEI that lost its leading zero.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "SIMs"
    sheet["A1"] = "SIM-inventaris Acme - export"
    sheet.merge_cells("A1:H1")
    sheet["A3"] = "Nr"
    sheet.merge_cells("A3:A4")
    sheet["B3"] = "SIM"
    sheet.merge_cells("B3:D3")
    sheet["E3"] = "Gebruiker"
    sheet.merge_cells("E3:F3")
    sheet["G3"] = "PUK"
    sheet.merge_cells("G3:G4")
    sheet["H3"] = "Status "
    sheet.merge_cells("H3:H4")
    for column, text in zip("BCDEF", ["ICCID", "MSISDN", "IMEI", "Naam", " E-mail"], strict=True):
        sheet[f"{column}4"] = text
    rows = {
        5: [
            1,
            JAN_ICCID,
            612345678,
            f"{JAN_IMEI} ",
            "Jan de Vries  ",
            "Jan@Example.NL ",
            "1234",
            "actief",
        ],
        7: [
            2,
            int(ZOE_ICCID),
            "06-87654321",
            int(ZOE_IMEI),
            "Zoë Çelik",
            "zoe@example.nl",
            5678,
            "actief",
        ],
        9: [
            3,
            int(ROUNDED_ICCID),
            "0611122233",
            None,
            "Pieter Bakker",
            "pieter@example.nl",
            "9",
            "actief",
        ],
        10: [
            4,
            "8931041055555000010",
            "+31 6 44455566",
            int(ZERO_IMEI),
            "Fatima",
            None,
            "77",
            "actief",
        ],
    }
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


TRAPS_MAPPING = {
    **SIM_MAPPING,
    "read": {"sheets": "SIMs", "header_row": 3, "header_rows": 2},
}


@pytest.fixture
def traps(tmp_path: Path):
    (tmp_path / "sims.xlsx").write_bytes(traps_workbook())
    return connector(tmp_path, TRAPS_MAPPING, "sims.xlsx")


# -- spreadsheet traps ---------------------------------------------------------------------


def test_lost_leading_zero_trailing_spaces_and_merged_header_are_tolerated(traps) -> None:
    result = scan(traps, ("phone", "0612345678"))
    assert keys(result) == ["row=5"]
    (record,) = result.records
    assert record.location == "sims.xlsx#SIMs"
    assert record.value("msisdn") == "612345678"
    assert record.value("name") == "Jan de Vries"  # trailing spaces trimmed
    assert [(m.field, m.exact) for m in record.matches] == [("msisdn", False)]
    # e-mail with a trailing space and capitals; IMEI with a trailing space
    assert keys(scan(traps, ("email", "jan@example.nl"))) == ["row=5"]
    assert keys(scan(traps, ("imei", JAN_IMEI))) == ["row=5"]
    assert keys(scan(traps, ("iccid", JAN_ICCID))) == ["row=5"]


def test_iccid_stored_as_float_is_reported_and_never_matched(traps) -> None:
    result = scan(traps, ("iccid", ZOE_ICCID))
    assert result.records == []
    (warning,) = result.warnings
    assert warning.startswith("sims.xlsx#SIMs: 2 value(s) in column 'SIM ICCID' (iccid)")
    assert "rows 7, 9" in warning
    assert ZOE_ICCID not in warning and ZOE_ICCID[:15] not in warning
    assert result.truncated is False


def test_a_float_that_prints_as_a_valid_iccid_is_not_a_match(traps) -> None:
    # The float of ROUNDED_ICCID prints as ROUNDED_AS_FLOAT, a Luhn-valid ICCID of
    # someone else: searching for that ICCID must not find Pieter's row.
    assert luhn.is_valid(ROUNDED_AS_FLOAT)
    result = scan(traps, ("iccid", ROUNDED_AS_FLOAT))
    assert result.records == []
    assert any("rows 7, 9" in w for w in result.warnings)


def test_damaged_values_found_through_another_field_never_expand(traps) -> None:
    result = scan(traps, ("phone", "0687654321"))
    (record,) = result.records
    iccid = next(f for f in record.fields if f.name == "iccid")
    assert iccid.spec.expandable is False  # a float-damaged ICCID must not be searched
    imei = next(f for f in record.fields if f.name == "imei")
    assert imei.value == ZOE_IMEI and imei.spec.expandable is True  # 15 digits: exact


def test_imei_that_lost_its_leading_zero_is_reported_not_matched(traps) -> None:
    result = scan(traps, ("imei", ZERO_IMEI))
    assert result.records == []
    assert result.warnings == [
        "sims.xlsx#SIMs row 10: column 'SIM IMEI' (imei) is unreadable as imei: 14 digits: "
        "may be an IMEI whose leading 0 a number cell dropped; not matched"
    ]


def test_number_typed_imei_of_15_digits_is_exact(traps) -> None:
    result = scan(traps, ("imei", ZOE_IMEI))
    assert keys(result) == ["row=7"]
    assert result.records[0].matches[0].exact is True


def test_secret_is_withheld_and_never_read_into_a_record(traps) -> None:
    result = scan(traps, ("phone", "0612345678"), ("phone", "0687654321"))
    assert keys(result) == ["row=5", "row=7"]
    for record in result.records:
        assert record.value("puk") is WITHHELD
        for item in record.fields:
            assert item.value not in ("1234", "5678", 5678)


def test_empty_rows_are_counted_in_row_numbers(traps) -> None:
    result = scan(traps, ("phone", "+31644455566"))
    assert keys(result) == ["row=10"]


# -- CSV notations ------------------------------------------------------------------------


def test_csv_phone_and_mac_notations_all_match_and_nothing_else(tmp_path: Path) -> None:
    rows = [
        "MSISDN,MAC,Naam",
        "0612345678,00:15:65:AB:CD:01,Jan",
        "06-1234 5678,0015.65ab.cd01,Jan",
        "+31 (0)6 12345678,00-15-65-ab-cd-01,Jan",
        "0031612345678,001565ABCD01,Jan",
        "31612345678,,Jan",
        "612345678,,Jan",
        "tel:+31612345678,,Jan",
        "+32 612345678,,Belgian namesake number",
        "0687654321,001565abcd02,Zoë",
        "6.12345678E+08,,spreadsheet damage",
        ",,",
    ]
    (tmp_path / "lines.csv").write_text("\n".join(rows) + "\n")
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "voip.handset",
        "columns": {
            "msisdn": {"identifier": "phone"},
            "mac": {"identifier": "mac"},
            "name": None,
        },
        "headers": {"msisdn": "MSISDN", "mac": "MAC", "name": "Naam"},
    }
    target = connector(tmp_path, mapping, "lines.csv")
    result = scan(target, ("phone", "+31612345678"))
    assert keys(result) == [f"row={n}" for n in (2, 3, 4, 5, 6, 7, 8)]
    assert all(not m.exact for r in result.records for m in r.matches)
    assert result.warnings == []  # a phone in scientific notation: refused, not reported
    macs = scan(target, ("mac", "00-15-65-ab-cd-01"))
    assert keys(macs) == ["row=2", "row=3", "row=4", "row=5"]
    assert [r.matches[0].exact for r in sorted(macs.records, key=lambda r: r.key)] == [
        False,
        False,
        False,
        False,
    ]


def test_cp1252_semicolon_csv_with_sniffed_delimiter(tmp_path: Path) -> None:
    text = (
        "Naam;E-mail;MSISDN\r\nZoë Çelik;zoe@example.nl;06 87654321\r\nJan;jan@example.nl;0612\r\n"
    )
    (tmp_path / "export.csv").write_bytes(text.encode("cp1252"))
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "general.contact",
        "read": {"encoding": "cp1252"},
        "columns": {"naam": {"identifier": "name"}, "e_mail": {"identifier": "email"}},
    }
    target = connector(tmp_path, mapping, "export.csv")
    result = scan(target, ("name", "Zoe Celik"))
    (record,) = result.records
    assert record.value("naam") == "Zoë Çelik"
    assert record.key == "row=2"
    # the same file read as UTF-8 is a clear per-file problem, not garbage
    bad = connector(tmp_path, {**mapping, "read": {}}, "export.csv")
    with pytest.raises(SourceError, match=r"export.csv: cannot be read: not utf-8 text"):
        scan(bad, ("name", "Zoe Celik"))


# -- broken files ---------------------------------------------------------------------------


def _good_csv() -> str:
    return "ICCID,MSISDN,IMEI,Naam,E-mail,PUK\n" + f"{JAN_ICCID},0612345678,,Jan,,1\n"


def test_broken_files_are_reported_and_the_others_scanned(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-good.csv").write_text(_good_csv())
    # cut off in the middle of its last row
    # cut off in the middle of its last row, inside a multi-byte character
    (folder / "b-cut.csv").write_bytes(
        "ICCID,MSISDN,IMEI,Naam,E-mail,PUK\n,0612345678,,Jan (b),,\n,06123,,Zoë".encode()[:-1]
    )
    (folder / "c-garbage.csv").write_bytes(b"\x00\x01" + os.urandom(500))
    (folder / "d-garbage.xlsx").write_bytes(os.urandom(2000))
    good = workbook_bytes({"S": [["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"]]})
    (folder / "e-truncated.xlsx").write_bytes(good[: len(good) // 2])
    (folder / "f-unterminated.csv").write_text(
        'ICCID,MSISDN,IMEI,Naam,E-mail,PUK\n,0612345678,,"Jan (f),,\n'
    )
    target = connector(tmp_path, SIM_MAPPING, "in/*")
    result = scan(target, ("phone", "0612345678"))
    assert sorted((r.location, r.key) for r in result.records) == [
        ("in/a-good.csv", "row=2"),
        ("in/b-cut.csv", "row=2"),
    ]
    assert result.truncated is True
    messages = "\n".join(result.warnings)
    assert "in/b-cut.csv: the file ends in the middle of a row" in messages
    assert "in/c-garbage.csv: cannot be read: binary data, not CSV text" in messages
    assert "in/d-garbage.xlsx: cannot be read: not a readable workbook" in messages
    assert "in/e-truncated.xlsx: cannot be read: not a readable workbook" in messages
    assert (
        "in/f-unterminated.csv: parsing stopped at line 2 (a quoted field is not closed" in messages
    )
    assert len(result.warnings) == 5


def test_a_source_whose_files_all_fail_is_a_failed_source(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    target = connector(tmp_path, SIM_MAPPING, "x.xlsx")
    with pytest.raises(SourceError, match=r"x.xlsx: cannot be read: not a readable workbook"):
        scan(target, ("phone", "0612345678"))


def test_no_matching_file_fails_the_check(tmp_path: Path) -> None:
    target = connector(tmp_path, SIM_MAPPING, "missing/*.xlsx")
    with pytest.raises(SourceError, match=r"no file matches connection.path \(missing/\*.xlsx\)"):
        target.check()


def test_empty_csv_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "good.csv").write_text(_good_csv())
    target = connector(tmp_path, SIM_MAPPING, ["empty.csv", "good.csv"])
    result = scan(target, ("phone", "0612345678"))
    assert keys(result) == ["row=2"]
    assert result.warnings == [
        "empty.csv: cannot be read: the file is empty; its rows were not searched"
    ]
    assert result.truncated


# -- layout --------------------------------------------------------------------------------


def test_missing_column_warns_and_marks_incomplete_unless_optional(tmp_path: Path) -> None:
    (tmp_path / "sims.csv").write_text("ICCID,MSISDN,Naam,E-mail,PUK\n,0612345678,Jan,,x\n")
    target = connector(tmp_path, SIM_MAPPING, "sims.csv")
    result = scan(target, ("phone", "0612345678"))
    assert keys(result) == ["row=2"]
    read = "header row 1 (read.header_row) holds: 'ICCID', 'Naam', 'MSISDN', 'E-mail', 'PUK'"
    assert result.warnings == [
        "sims.csv: no column 'IMEI' for field imei; that field was not read from this file "
        f"({read})"
    ]
    assert result.truncated
    assert target.check_mapping() == [f"sims.csv: no column 'IMEI' (columns.imei); {read}"]
    optional = {**SIM_MAPPING, "headers": {**SIM_MAPPING["headers"], "imei": {"optional": True}}}
    target = connector(tmp_path, optional, "sims.csv")
    result = scan(target, ("phone", "0612345678"))
    assert result.warnings == [] and not result.truncated
    assert target.check_mapping() == []


def test_sheet_selection(tmp_path: Path) -> None:
    header = ["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"]
    (tmp_path / "book.xlsx").write_bytes(
        workbook_bytes(
            {
                "2025": [header, [None, "0612345678", None, "Jan 2025", None, None]],
                "2026": [header, None, [None, "0612345678", None, "Jan 2026", None, None]],
            }
        )
    )
    every = connector(tmp_path, {**SIM_MAPPING, "read": {"sheets": "*"}}, "book.xlsx")
    result = scan(every, ("phone", "0612345678"))
    assert sorted(r.ref for r in result.records) == [
        ("book.xlsx#2025", "row=2"),
        ("book.xlsx#2026", "row=3"),
    ]
    first = connector(tmp_path, SIM_MAPPING, "book.xlsx")
    assert [r.ref for r in scan(first, ("phone", "0612345678")).records] == [
        ("book.xlsx#2025", "row=2")
    ]
    named = connector(tmp_path, {**SIM_MAPPING, "read": {"sheets": ["2026", "2027"]}}, "book.xlsx")
    result = scan(named, ("phone", "0612345678"))
    assert [r.ref for r in result.records] == [("book.xlsx#2026", "row=3")]
    assert result.warnings == [
        "book.xlsx#2027: cannot be read: has no sheet '2027' (it has 2025, 2026); "
        "its rows were not searched"
    ]
    assert result.truncated


def test_xlsxwriter_constant_memory_workbook(tmp_path: Path) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "big.xlsx"), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    sheet.write_row(0, 0, ["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"])
    for index in range(1, 2001):
        sheet.write_row(index, 0, ["", f"0612{index:06d}", "", f"Person {index}", "", "x"])
    book.close()
    target = connector(tmp_path, SIM_MAPPING, "big.xlsx")
    result = scan(target, ("phone", "0612001234"), ("phone", "0612002000"))
    assert keys(result) == ["row=1235", "row=2001"]
    assert result.rows_read == 2


def test_parquet_typed_columns(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "ICCID": [float(JAN_ICCID), None],
            "MSISDN": [612345678, 687654321],
            "IMEI": [None, ZOE_IMEI],
            "Naam": ["Jan", "Zoë"],
            "E-mail": ["JAN@EXAMPLE.NL", None],
            "PUK": ["1", None],
        }
    )
    frame.write_parquet(tmp_path / "sims.parquet")
    target = connector(tmp_path, SIM_MAPPING, "sims.parquet")
    result = scan(target, ("phone", "0612345678"), ("email", "jan@example.nl"))
    (record,) = result.records
    assert record.key == "row=1"
    assert sorted(m.field for m in record.matches) == ["email", "msisdn"]
    assert record.value("puk") is WITHHELD
    damaged = scan(target, ("iccid", JAN_ICCID))
    assert damaged.records == []
    assert damaged.warnings[0].startswith("sims.parquet: 1 value(s) in column 'ICCID' (iccid)")
    assert keys(scan(target, ("imei", ZOE_IMEI))) == ["row=2"]


def test_declared_key_falls_back_to_row_when_empty_or_repeated(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "ID,MSISDN\nM-1,0612345678\nM-2,0612345678\nM-2,0612345678\n,0612345678\nM-3,0687654321\n"
    )
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "mobile.notifications",
        "entity": "event",
        "key": "id",
        "columns": {"id": None, "msisdn": {"identifier": "phone"}},
        "headers": {"msisdn": "MSISDN"},
    }
    result = scan(connector(tmp_path, mapping, "log.csv"), ("phone", "0612345678"))
    assert keys(result) == ["id=M-1", "row=3", "row=4", "row=5"]


def test_recorded_at_is_read_in_iso_and_day_first_forms(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "MSISDN,Verzonden\n0612345678,31-12-2025 14:05\n"
        "0612345678,2026-01-02\n0612345678,gisteren\n"
    )
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "mobile.notifications",
        "columns": {"msisdn": {"identifier": "phone"}, "verzonden": {"recorded_at": True}},
        "headers": {"msisdn": "MSISDN"},
    }
    result = scan(connector(tmp_path, mapping, "log.csv"), ("phone", "0612345678"))
    dates = {r.key: r.recorded_at for r in result.records}
    assert str(dates["row=2"]) == "2025-12-31 14:05:00"
    assert str(dates["row=3"]) == "2026-01-02 00:00:00"
    assert dates["row=4"] is None


# -- extensions -------------------------------------------------------------------------------


def test_extension_scoped_by_column_or_by_source(tmp_path: Path) -> None:
    (tmp_path / "devices.csv").write_text(
        "MAC,Toestel,PBX\n001565abcd01,201,Acme\n0004f2aa0010,201,bakkerij\n001565abcd09,201,\n"
    )
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "voip.handset",
        "scope": {"from": "column", "field": "pbx"},
        "columns": {
            "mac": {"identifier": "mac"},
            "toestel": {"identifier": "extension"},
            "pbx": None,
        },
    }
    target = connector(tmp_path, mapping, "devices.csv")
    result = scan(target, ("extension", "acme/201"))
    (record,) = result.records
    assert record.value("toestel") == "acme/201" and record.value("mac") == "001565abcd01"
    # the unscoped row stays "201": weak, and found only by an unscoped search
    assert keys(scan(target, ("extension", "201"))) == ["row=4"]
    by_source = {**mapping, "scope": {"from": "source"}}
    target = connector(tmp_path, by_source, "devices.csv", scope="Acme")
    assert keys(scan(target, ("extension", "acme/201"))) == ["row=2", "row=3", "row=4"]


# -- whose data ---------------------------------------------------------------------------------


LIFECYCLE_MAPPING = {
    **SIM_MAPPING,
    "lifecycle": {"field": "status", "retired": ["Opgezegd", "retired"], "recycled": ["phone"]},
}


def test_retired_row_is_not_matched_by_a_recycled_number(tmp_path: Path) -> None:
    (tmp_path / "sims.csv").write_text(
        "ICCID,MSISDN,IMEI,Naam,E-mail,PUK,Status\n"
        f"{JAN_ICCID},0612345678,,Jan de Vries,jan@example.nl,1,Actief\n"
        f"8931041000000111111,06-12345678,,Kees Jansen,kees@example.nl,2, opgezegd \n"
    )
    target = connector(tmp_path, LIFECYCLE_MAPPING, "sims.csv")
    result = scan(target, ("phone", "+31612345678"))
    assert keys(result) == ["row=2"]
    assert result.warnings == [
        "sims.csv: 1 retired row(s) held a searched identifier that is re-issued to new holders "
        "(row 3); a retired row belongs to its former holder, so they were left out"
    ]
    # the former holder finds his row by e-mail; its number is shown but never expanded
    former = scan(target, ("email", "kees@example.nl"), ("phone", "0612345678"))
    assert keys(former) == ["row=2", "row=3"]
    kees = next(r for r in former.records if r.key == "row=3")
    assert [m.field for m in kees.matches] == ["email"]
    msisdn = next(f for f in kees.fields if f.name == "msisdn")
    assert msisdn.value == "06-12345678" and msisdn.spec.expandable is False
    jan = next(r for r in former.records if r.key == "row=2")
    assert next(f for f in jan.fields if f.name == "msisdn").spec.expandable is True


KEYHOLDER_MAPPING = {
    "version": 1,
    "kind": "tabular",
    "category": "alarm.keyholder",
    "columns": {
        "object": None,
        "naam": {"identifier": "name"},
        "mobiel": {"identifier": "phone"},
        "pin": {"secret": True},
    },
    "relations": [{"same": "object", "third_party": True}],
}


def test_other_keyholders_of_the_object_are_third_party_records(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(
        "Object,Naam,Mobiel,PIN\n"
        "obj-1,Jan,0612345678,1111\n"
        "OBJ-1 ,Zoë,0687654321,2222\n"
        "obj-2,Pieter,0611122233,3333\n"
        "obj-2,Jan,0612345678,1111\n"
        "obj-3,Fatima,0644455566,4444\n"
    )
    target = connector(tmp_path, KEYHOLDER_MAPPING, "keys.csv")
    result = scan(target, ("phone", "0612345678"))
    assert keys(result, third_party=False) == ["row=2", "row=5"]
    assert keys(result, third_party=True) == ["row=3", "row=4"]
    zoe = next(r for r in result.records if r.key == "row=3")
    assert zoe.matches == [] and [(link.key, link.relation) for link in zoe.links] == [
        ("row=2", "same object")
    ]
    # the batch: Zoë is searched too; her row is hers (matched, not third party) and a
    # separate third-party record of the same row hangs from Jan's row
    batch = scan(target, ("phone", "0612345678"), ("phone", "0687654321"))
    zoe_rows = [r for r in batch.records if r.key == "row=3"]
    assert sorted((r.third_party, bool(r.matches), len(r.links)) for r in zoe_rows) == [
        (False, True, 0),
        (True, False, 1),
    ]
    jan_copy = [r for r in batch.records if r.key == "row=2" and r.third_party]
    assert [link.key for link in jan_copy[0].links] == ["row=3"]


# -- batches -------------------------------------------------------------------------------------


def test_thousands_of_identifiers_in_one_scan(tmp_path: Path) -> None:
    lines = ["MSISDN,E-mail"]
    for index in range(6000):
        lines.append(f"06-{10000000 + index},user{index}@Example.NL")
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "general.contact",
        "columns": {"msisdn": {"identifier": "phone"}, "e_mail": {"identifier": "email"}},
        "headers": {"msisdn": "MSISDN"},
    }
    target = connector(tmp_path, mapping, "big.csv")
    wanted = [("phone", f"06{10000000 + i}") for i in range(0, 6000, 3)]
    wanted += [("email", f"user{i}@example.nl") for i in range(1, 6000, 3)]
    wanted += [("phone", "0619999999"), ("email", "nobody@example.nl")]
    target.check()
    result = target.scan(ids(*wanted))
    assert len(result.records) == 4000
    assert result.rows_read == 4000
    assert {r.key for r in result.records} == {
        f"row={i + 2}" for i in range(6000) if i % 3 in (0, 1)
    }


# -- unit: damage and headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "flagged"),
    [
        ("iccid", "8.93104E+18", True),
        ("iccid", "8,93104101234568E+18", True),
        ("iccid", "8931041012345670000", True),  # 15 significant digits + zeros
        ("iccid", "8931041012345678848", True),  # an exact double
        ("iccid", JAN_ICCID, False),
        ("iccid", "8931 0410 1234 5678 902", False),
        ("imei", "3.52099E+14", True),
        ("imei", JAN_IMEI, False),
        ("imei", "3520990017614810", False),  # IMEISV: first 14 digits intact
        ("phone", "6.12345678E+08", None),  # refused per value, not reported in bulk
        ("phone", "612345678", False),
        ("imsi", "2.04041E+14", True),
        ("email", "1E+5@example.nl", False),
    ],
)
def test_damage_detection_vectorised_and_per_value_agree(
    kind: str, text: str, flagged: bool | None
) -> None:
    from connectors.tabular.exprs import damage_reason, damaged

    expression = damaged(kind, pl.col("v"))
    vectorised = (
        False
        if expression is None
        else pl.DataFrame({"v": [text]}).select(expression.fill_null(False)).item()
    )
    assert vectorised is bool(flagged)
    assert (damage_reason(kind, text) is not None) is (flagged is not False)


def test_header_names_from_merged_cells() -> None:
    from connectors.tabular.read import header_names

    rows = [
        ["Nr", "SIM", None, "Gebruiker", None, "Status"],
        [None, "ICCID", "MSISDN", "Naam", "Naam", None],
    ]
    assert header_names(rows, 6, span=2) == [
        "Nr",
        "SIM ICCID",
        "SIM MSISDN",
        "Gebruiker Naam",
        "Gebruiker Naam (2)",
        "Status",
    ]
    assert header_names([["Telefoon", None, "E-mail"]], 4, span=1) == [
        "Telefoon",
        "Telefoon (2)",
        "E-mail",
        "E-mail (2)",
    ]


def test_truncated_zip_is_a_zip_error_not_a_crash(tmp_path: Path) -> None:
    # a workbook whose zip lost its central directory
    good = workbook_bytes({"S": [["ICCID"], [JAN_ICCID]]})
    assert zipfile.is_zipfile(io.BytesIO(good))
    (tmp_path / "t.xlsx").write_bytes(good[:-200])
    target = connector(tmp_path, SIM_MAPPING, "t.xlsx")
    with pytest.raises(SourceError, match=r"t\.xlsx: cannot be read: not a readable workbook"):
        scan(target, ("iccid", JAN_ICCID))


@pytest.mark.parametrize("extra", [0, 100], ids=["few-addresses", "batch-of-addresses"])
def test_email_spellings_are_found_by_few_and_by_many_addresses(tmp_path: Path, extra: int) -> None:
    (tmp_path / "mail.csv").write_text(
        "E-mail\n"
        "Jan de Vries <Jan@Example.NL>\n"
        "mailto:jan@example.nl\n"
        " JAN@example.nl \n"
        "jan@example.nl.\n"
        '"""Vries, Jan"" <jan@example.nl>"\n'
        "jan@example.nl.evil.example\n"
        "xjan@example.nl\n"
        "zoe@example.nl\n"
    )
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "general.contact",
        "columns": {"e_mail": {"identifier": "email"}},
    }
    target = connector(tmp_path, mapping, "mail.csv")
    target.check()
    wanted = ids(
        ("email", "jan@example.nl"), *[("email", f"other{i}@example.nl") for i in range(extra)]
    )
    result = target.scan(wanted)
    assert keys(result) == ["row=2", "row=3", "row=4", "row=5", "row=6"]
    assert result.rows_read <= 8


def test_utf16_tab_separated_export(tmp_path: Path) -> None:
    # Excel's "Unicode text": UTF-16 with a byte-order mark, tab-separated
    text = "Naam\tMSISDN\r\nZoë Çelik\t06-87654321\r\nJan\t0612345678\r\n"
    (tmp_path / "export.txt").write_bytes(text.encode("utf-16"))
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "general.contact",
        "read": {"encoding": "utf-16"},
        "columns": {"naam": {"identifier": "name"}, "msisdn": {"identifier": "phone"}},
    }
    result = scan(connector(tmp_path, mapping, "export.txt"), ("phone", "+31687654321"))
    (record,) = result.records
    assert (record.key, record.value("naam")) == ("row=2", "Zoë Çelik")
    assert result.warnings == [] and not result.truncated


def test_a_wrong_header_row_shows_the_row_read_and_its_texts_nearest_first(
    tmp_path: Path,
) -> None:
    (tmp_path / "sims.csv").write_text(
        "SIM export 2026\nICCID,IMEI,MSISDN,Naam,E-mail,PUK\n,352099001761481,0612345678,Jan,,x\n"
    )
    target = connector(tmp_path, SIM_MAPPING, "sims.csv")
    problems = target.check_mapping()
    assert problems  # the title row was read as the header
    assert all("header row 1 (read.header_row) holds: 'SIM export 2026'" in p for p in problems)


#: a real, Luhn-valid ICCID whose digits happen to be exactly a double (once in ~1,000)
DOUBLE_LOOKING_ICCID = "8931040224203968512"


def test_a_text_cell_iccid_that_looks_like_a_double_is_trusted_in_a_workbook(
    tmp_path: Path,
) -> None:
    assert luhn.is_valid(DOUBLE_LOOKING_ICCID)
    assert int(float(DOUBLE_LOOKING_ICCID)) == int(DOUBLE_LOOKING_ICCID)
    rows = [
        ["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"],
        [DOUBLE_LOOKING_ICCID, "0612345678", None, "Saar", "saar@example.nl", None],
        [float(ZOE_ICCID), "0687654321", None, "Zoë", "zoe@example.nl", None],
    ]
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": rows}))
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx")
    # the text cell is the ICCID as typed: matched, and expanded when found otherwise
    assert keys(scan(target, ("iccid", DOUBLE_LOOKING_ICCID))) == ["row=2"]
    (record,) = scan(target, ("email", "saar@example.nl")).records
    iccid = next(f for f in record.fields if f.name == "iccid")
    assert iccid.value == DOUBLE_LOOKING_ICCID and iccid.spec.expandable is True
    # the number cell lost digits: never matched, reported, never expanded
    result = scan(target, ("iccid", ZOE_ICCID))
    assert result.records == [] and any("row 3" in w or "rows 3" in w for w in result.warnings)
    (zoe,) = scan(target, ("email", "zoe@example.nl")).records
    assert next(f for f in zoe.fields if f.name == "iccid").spec.expandable is False


def test_in_a_csv_a_double_looking_iccid_is_trusted_only_in_a_text_column(
    tmp_path: Path,
) -> None:
    # a CSV keeps no cell types; a column of floats printed in full is all doubles,
    # so one ICCID no float prints shows that the column was kept as text
    header = "ICCID,MSISDN,IMEI,Naam,E-mail,PUK\n"
    text = f"{DOUBLE_LOOKING_ICCID},0612345678,,Saar,s@x.nl,\n{JAN_ICCID},0611111111,,Jan,j@x.nl,\n"
    (tmp_path / "text.csv").write_text(header + text, encoding="utf-8")
    assert keys(
        scan(connector(tmp_path, SIM_MAPPING, "text.csv"), ("iccid", DOUBLE_LOOKING_ICCID))
    ) == ["row=2"]
    jan_as_float = int(float(JAN_ICCID))
    printed = (
        f"{DOUBLE_LOOKING_ICCID},0612345678,,Saar,s@x.nl,\n{jan_as_float},0611111111,,Jan,j@x.nl,\n"
    )
    (tmp_path / "floats.csv").write_text(header + printed, encoding="utf-8")
    floats = connector(tmp_path, SIM_MAPPING, "floats.csv")
    assert scan(floats, ("iccid", DOUBLE_LOOKING_ICCID)).records == []


@pytest.mark.parametrize(
    ("path", "read", "first"),
    [
        ("sims.xlsx", {}, True),
        (["logs/*.csv", "archive/*.ODS"], {}, True),
        ("sims.csv", {}, False),
        ("sims.parquet", {}, False),
        ("sims.dat", {"format": "excel"}, True),
        ("sims.dat", {}, False),  # an unknown type: named when the source is scanned
    ],
)
def test_a_source_of_workbooks_starts_first_in_its_round(
    tmp_path: Path, path: str | list[str], read: dict[str, str], first: bool
) -> None:
    """A workbook sheet is parsed whole, every cell held at once, so its scan starts
    before the round's others (the engine's order)."""
    mapping = {**SIM_MAPPING, "read": {**SIM_MAPPING.get("read", {}), **read}}
    assert connector(tmp_path, mapping, path).starts_first() is first
