"""The XLSX a person opens: cover, frozen headers, filters, widths, real dates, text ids.

Opened with openpyxl, and converted by LibreOffice headless to PDF whose first page,
rendered to PNG with pdftoppm, must show ink (checked on the pixels with Pillow).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from PIL import Image
from support.hit_rows import hit_row
from support.synthetic_case import NOW, synthetic_request, write_synthetic_case

from discover.case import read_case
from exporters import export_package
from exporters.tables import RecordType
from exporters.xlsx_export import sheet_names
from tests.conftest import server_missing
from tests.exporters.package_checks import EVERY

SOFFICE = "/usr/bin/soffice"


def _row(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "source": "mobile",
        "location": "sims",
        "record_key": "id=1",
        "field": "iccid",
        "value": "8931041012345678902",
        "identifier": "iccid",
        "category": "mobile.sim",
        "service": "mobile",
        "matched_on": "iccid:8931041012345678902",
        "via": "iccid:8931041012345678902",
        "recorded_at": NOW,
    }
    return hit_row(**{**fields, **overrides})


@pytest.fixture
def typed_case(tmp_path: Path) -> Path:
    """Values Excel would mangle if written as numbers, dates written as text, a secret."""
    rows = [
        _row(),
        _row(field="imei", value="352099001761481", identifier="imei", category="mobile.device"),
        _row(field="msisdn", value="+31612345678", identifier="phone"),
        _row(field="imsi", value="204041234567890", identifier="imsi"),
        _row(field="account_no", value="0012345", value_type="integer", identifier=None),
        _row(
            field="huge_count", value="12345678901234567890", value_type="integer", identifier=None
        ),
        _row(field="activated", value="2025-03-01", value_type="date", identifier=None),
        _row(field="last_seen", value="2026-10-19 12:35:35.000000", identifier=None),
        _row(field="charge", value="0.0125", value_type="decimal", identifier=None),
        _row(field="formula", value='=HYPERLINK("http://x")', identifier=None),
        _row(field="puk", value=None, identifier=None, secret=True),
    ]
    case = tmp_path / "case"
    write_synthetic_case(case, rows=rows, request=synthetic_request())
    return case


def _open(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)  # not read-only: freeze panes, filters, widths


def test_cover_and_layout(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(demo_case, formats=["xlsx"], out=tmp_path, allow_undecided=True).path
    book = _open(package / "access.xlsx")
    cover = book.worksheets[0]
    assert cover.title == "Voorblad"
    assert book.worksheets[1].title == "Velden"
    text = "\n".join(str(c.value) for row in cover.iter_rows() for c in row if c.value is not None)
    for needle in (
        "REQ-DEMO-0001",
        "Acme Logistiek B.V.",
        "Bezorgsupport",
        "Autoriteit Persoonsgegevens",
        "Uiterste antwoorddatum",
        "Bewaartermijn",
        "Doelen",
        "Ontvangers",
        "Grondslag",
        "achtergehouden",
        "privacy@bezorgsupport.nl",
    ):
        assert needle in text, needle
    # received and deadline are real dates, one month apart
    dates = [c.value for row in cover.iter_rows() for c in row if isinstance(c.value, datetime)]
    received = read_case(demo_case).request.received
    assert dates[0].date() == received
    assert (dates[1].year * 12 + dates[1].month) - (received.year * 12 + received.month) == 1
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:"), sheet.title
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        assert all(header)
        for index in range(1, len(header) + 1):
            width = sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width
            assert 6 <= width <= 62, (sheet.title, index, width)


def test_identifiers_are_text_and_dates_are_dates(typed_case: Path, tmp_path: Path) -> None:
    package = export_package(typed_case, formats=["xlsx"], out=tmp_path, **EVERY).path
    book = _open(package / "access.xlsx")
    sheet = book["Simkaart"]
    header = [c.value for c in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    for name, value in (
        ("iccid", "8931041012345678902"),
        ("imei", "352099001761481"),
        ("msisdn", "+31612345678"),
        ("imsi", "204041234567890"),
        ("account_no", "0012345"),  # a leading zero is kept: text
        ("huge_count", "12345678901234567890"),  # more digits than Excel keeps: text
        ("formula", '=HYPERLINK("http://x")'),  # never a formula
    ):
        assert row[name].data_type == "s", name
        assert row[name].value == value, name
    assert row["activated"].is_date and row["activated"].value == datetime(2025, 3, 1)
    assert row["last_seen"].is_date
    assert row["last_seen"].value == datetime(2026, 10, 19, 12, 35, 35)
    assert row["charge"].data_type == "n" and row["charge"].value == pytest.approx(0.0125)
    assert row["_recorded_at" if "_recorded_at" in row else "Datum record (UTC)"].is_date
    # the secret shows as withheld, and the cover says how to ask for it
    assert row["puk"].value == "[achtergehouden]"
    cover = "\n".join(str(c.value) for r in book.worksheets[0].iter_rows() for c in r if c.value)
    assert "Simkaart: puk" in cover


def test_sheet_names_are_valid_and_unique() -> None:
    import polars as pl

    def rt(category: str) -> RecordType:
        return RecordType("s.l", "s", "l", (), pl.DataFrame(), category)

    titles = {"a": "a" * 40, "b": "a" * 40 + "x", "c": "bad[name]:*?/\\", "d": "Voorblad"}
    names = sheet_names(
        [rt("a"), rt("b"), rt("c"), rt("d"), rt("d")], ["Voorblad", "Velden"], titles
    )
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names} | {"voorblad", "velden"}) == len(names) + 2
    assert not any(ch in n for n in names for ch in "[]:*?/\\")


@pytest.mark.parametrize(
    ("language", "title", "header"),
    [("nl", "VoIP-toestel", "MAC-adres toestel"), ("en", "VoIP handset", "Handset MAC address")],
)
def test_columns_carry_the_mappings_labels_in_the_package_language(
    demo_case: Path, tmp_path: Path, language: str, title: str, header: str
) -> None:
    for kind in ("access", "portability"):
        package = export_package(
            demo_case,
            kind=kind,  # type: ignore[arg-type]
            formats=["xlsx"],
            language=language,
            out=tmp_path / kind / language,
            **EVERY,
        ).path
        book = openpyxl.load_workbook(package / f"{kind}.xlsx", read_only=True)
        assert title in book.sheetnames, book.sheetnames
        first_row = next(book[title].iter_rows(max_row=1, values_only=True))
        assert header in first_row
        for name in book.sheetnames:
            row = next(book[name].iter_rows(max_row=1, values_only=True), ())
            for technical in ("keyholder_name", "msRTCSIP-Line", "value_type", "withheld.secret"):
                assert technical not in row, (name, technical)
            # a sheet is named by its category, never by a file, entry or record
            assert not any(part in name for part in ("001565", "ldif", ".cfg", "DC=")), name


def _ink(png: Path) -> int:
    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return sum(histogram[:200])  # pixels clearly darker than white


@pytest.mark.libreoffice
@pytest.mark.parametrize("kind", ["access", "portability"])
def test_libreoffice_converts_it_to_a_pdf_with_content(
    demo_case: Path, tmp_path: Path, kind: str
) -> None:
    if not Path(SOFFICE).exists() and not shutil.which("soffice"):
        server_missing("LibreOffice", "soffice is not installed (Debian: libreoffice-calc)")
    if not shutil.which("pdftoppm"):
        server_missing("pdftoppm", "poppler-utils is not installed")
    package = export_package(
        demo_case, kind=kind, formats=["xlsx"], out=tmp_path / "p", allow_undecided=True
    ).path  # type: ignore[arg-type]
    assert openpyxl.load_workbook(package / f"{kind}.xlsx", read_only=True).sheetnames
    work = tmp_path / "lo"
    work.mkdir()
    shutil.copy(package / f"{kind}.xlsx", work / "book.xlsx")
    soffice = SOFFICE if Path(SOFFICE).exists() else str(shutil.which("soffice"))
    profile = (tmp_path / "lo-profile").as_uri()
    completed = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work),
            str(work / "book.xlsx"),
        ],
        capture_output=True,
        timeout=180,
        check=False,
    )
    pdf = work / "book.pdf"
    assert pdf.is_file(), completed.stderr.decode(errors="replace")
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", "50", "-png", str(pdf), str(work / "page")],
        check=True,
        timeout=60,
    )
    pages = sorted(work.glob("page*.png"))
    assert pages, "pdftoppm rendered no page"
    assert _ink(pages[0]) > 500, "the first page is blank"


def test_blank_page_detection_works(tmp_path: Path) -> None:
    """The ink check itself: a white PNG has none, one with text has some."""
    white = tmp_path / "white.png"
    Image.new("RGB", (200, 200), "white").save(white)
    assert _ink(white) == 0
    drawn = Image.new("RGB", (200, 200), "white")
    for x in range(20, 180):
        for y in range(90, 110):
            drawn.putpixel((x, y), (0, 0, 0))
    drawn.save(tmp_path / "ink.png")
    assert _ink(tmp_path / "ink.png") > 500
