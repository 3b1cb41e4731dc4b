"""The demo's 24/7 alarm keyholder list (XLSX written with xlsxwriter).

Acme's warehouse has Jan de Vries (first call) and Zoë Çelik as keyholders; Acme's
office has Pieter Bakker and Fatima El Amrani; the namesake's bakery has the other
Jan de Vries and Marieke de Vries. A search for Jan returns his own row and his
object, and Zoë's row as a related record marked third_party; the office's
keyholders are not returned at all. Codewords are secrets.

Traps: a merged title banner above the header, an empty row between objects, a
mobile number typed as a number (leading zero lost) and trailing spaces.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import xlsxwriter

from discover.demo.people import FATIMA, JAN, NAMESAKE, PIETER, ZOE
from discover.files import private_dir, write_bytes

KEYHOLDERS = "alarm/keyholders.xlsx"
SHEET = "Sleutelhouders"
HEADER = [
    "Object-ID",
    "Object",
    "Adres",
    "Postcode",
    "Plaats",
    "Volgorde",
    "Naam",
    "Telefoon",
    "Mobiel",
    "E-mail",
    "Codewoord",
]
WAREHOUSE = ("ACME-OBJ-0042", "Magazijn Waalhaven", "Waalhaven Z.z. 40", "3089 JH", "Rotterdam")
OFFICE = ("ACME-OBJ-0043", "Kantoor Wijnhaven", "Wijnhaven 12", "3011 WR", "Rotterdam")
BAKERY = ("BAK-OBJ-0007", "Bakkerij De Vries", "Markt 3", "2611 GP", "Delft")
CODEWORDS = {
    "jan": "Havenlicht-7",
    "zoe": "Zeemeeuw-31",
    "pieter": "Kraanbaan-2",
    "fatima": "Tulpenveld-9",
    "jan-bakkerij": "Krentenbol-4",
    "marieke": "8841",
}
MARIEKE = ("Marieke de Vries", "+31655509876", "marieke@bakkerijdevries.nl")


def keyholder_rows() -> list[list[Any] | None]:
    """Data rows (None: an empty row). Row 1 is the banner, row 2 the header."""

    def national(e164: str) -> str:
        return "0" + e164[3:]

    return [
        # Jan: mobile typed as a number (612345678), desk phone in national notation
        [
            *WAREHOUSE,
            1,
            "Jan de Vries",
            "010-2345201",
            int(JAN.mobile[3:]),
            JAN.email,
            CODEWORDS["jan"],
        ],
        [*WAREHOUSE, 2, "Zoë Çelik ", "", "06-87654321 ", ZOE.email, CODEWORDS["zoe"]],
        None,
        [
            *OFFICE,
            1,
            "Pieter Bakker",
            "",
            national(PIETER.mobile),
            PIETER.email,
            CODEWORDS["pieter"],
        ],
        [*OFFICE, 2, "Fatima El Amrani", "010 234 5204", FATIMA.mobile, "", CODEWORDS["fatima"]],
        None,
        [
            *BAKERY,
            1,
            "Jan de Vries",
            "015-2123410",
            national(NAMESAKE.mobile),
            NAMESAKE.email,
            CODEWORDS["jan-bakkerij"],
        ],
        [*BAKERY, 2, MARIEKE[0], "", MARIEKE[1], MARIEKE[2], CODEWORDS["marieke"]],
    ]


def keyholder_workbook() -> bytes:
    """The keyholder list as XLSX bytes."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(SHEET)
    banner = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    sheet.merge_range(
        0, 0, 0, len(HEADER) - 1, "Meldkamer 24/7 - sleutelhouders per object", banner
    )
    sheet.write_row(1, 0, HEADER, bold)
    row_index = 2
    for row in keyholder_rows():
        if row is not None:
            sheet.write_row(row_index, 0, row)
        row_index += 1
    book.close()
    return buffer.getvalue()


def build_alarm(estate: Path) -> list[dict[str, Any]]:
    """Write the keyholder list under ``estate`` and return its sources entry."""
    private_dir(estate / "alarm")
    write_bytes(estate / KEYHOLDERS, keyholder_workbook())
    return [
        {
            "name": "alarm-keyholders",
            "kind": "tabular",
            "description": "Keyholders of the 24/7 alarm objects (XLSX)",
            "mapping": "shipped:alarm/keyholders.yaml",
            "connection": {"path": f"estate/{KEYHOLDERS}"},
        }
    ]
