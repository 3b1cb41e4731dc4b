"""The demo's mobile service files: SIM inventory (XLSX) and notification logs (CSV).

Written the way real exports look, traps included, so that the demo shows what the
tabular connector copes with:

* the inventory (openpyxl) has a merged title banner, an empty row, a two-row header
  with merged group cells, empty rows between the data, trailing spaces, a mobile
  number stored as a number (612345678, its leading zero lost) and an ICCID stored as
  a number (8.93104E+18: digits lost, reported as unreadable, never matched);
* a retired SIM of a former employee whose MSISDN now belongs to Jan de Vries: it is
  its former user's data and must not be found for Jan;
* the logs spell MSISDNs in several notations; one roaming row has no MSISDN (it is
  found through the SIM's IMSI/IMEI), one logs its IMEI in scientific notation.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from discover.demo.people import FATIMA, JAN, NAMESAKE, PIETER, ZOE, Person
from discover.files import private_dir, write_bytes


@dataclass(frozen=True, slots=True)
class FormerHolder:
    """An Acme employee who left; his SIM was retired and its number re-issued to Jan."""

    name: str = "Kees Jansen"
    email: str = "kees.jansen@acme-logistiek.nl"
    iccid: str = "8931041000000111111"
    imsi: str = "204041230000111"
    imei: str = "356938035643817"
    puk: str = "90417362"


FORMER = FormerHolder()
PUKS = {
    JAN.key: "40718263",
    ZOE.key: "59302741",
    PIETER.key: "83920174",
    FATIMA.key: "27405518",
    NAMESAKE.key: "61839027",
}
#: An IMEISV (14 digits of the IMEI + a 2-digit software version) for Zoë's phone.
ZOE_IMEISV = ZOE.imei[:14] + "01"

INVENTORY = "mobile/sim-inventory.xlsx"
ROAMING = "mobile/roaming-notifications.csv"
BUNDLES = "mobile/bundle-notifications.csv"

HEADER_GROUPS = [
    ("Klant", 1),
    ("SIM-kaart", 5),
    ("Toestel", 2),
    ("Gebruiker", 3),
    ("Status", 1),
    ("Actief sinds", 1),
]
HEADER = [
    "Klant",
    "ICCID",
    "IMSI",
    "MSISDN",
    "PUK",
    "Status SIM",
    "IMEI",
    "Model",
    "Naam",
    "E-mail",
    "Kostenplaats",
    "Status",
    "Actief sinds",
]


def _today() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def _inventory_rows() -> list[list[Any]]:
    """Data rows of the inventory, None for an empty spreadsheet row."""
    now = _today()
    return [
        # Jan: MSISDN typed as a number (leading zero lost), spaced IMEI, trailing space,
        # no e-mail
        [
            "Acme Logistiek B.V.",
            JAN.iccid,
            JAN.imsi,
            int(JAN.mobile[3:]),
            PUKS[JAN.key],
            "in gebruik",
            "35 209900 176148 1",
            "Apple iPhone 15",
            "Jan de Vries ",
            None,  # the administration never recorded his e-mail: found by his number
            "KP-4100 Vloot",
            "Actief",
            (now - timedelta(days=300)).date(),
        ],
        None,
        # Zoë: ICCID in groups of four, IMEISV instead of IMEI
        [
            "Acme Logistiek B.V.",
            " ".join([ZOE.iccid[i : i + 4] for i in range(0, len(ZOE.iccid), 4)]),
            ZOE.imsi,
            "06-87654321",
            PUKS[ZOE.key],
            "in gebruik",
            ZOE_IMEISV,
            "Samsung Galaxy S24",
            "Zoë Çelik",
            ZOE.email,
            "KP-4200 Planning",
            "Actief",
            (now - timedelta(days=200)).date(),
        ],
        # Pieter: ICCID and IMEI typed as numbers; the ICCID lost its last digits
        [
            "Acme Logistiek B.V.",
            int(PIETER.iccid),
            PIETER.imsi,
            "+31 6 11122233",
            PUKS[PIETER.key],
            "in gebruik",
            int(PIETER.imei),
            "Nokia XR21",
            "Pieter Bakker",
            PIETER.email,
            "KP-4300 Transport",
            "Actief",
            (now - timedelta(days=500)).date(),
        ],
        None,
        None,
        [
            "Acme Logistiek B.V.",
            FATIMA.iccid,
            FATIMA.imsi,
            "0644455566",
            PUKS[FATIMA.key],
            "in gebruik",
            FATIMA.imei,
            "Apple iPhone 13",
            "Fatima El Amrani",
            FATIMA.email.upper() + " ",
            "KP-4000 Kantoor",
            "Actief",
            (now - timedelta(days=800)).date(),
        ],
        # Kees left Acme; his SIM was retired and the number went to Jan
        [
            "Acme Logistiek B.V.",
            FORMER.iccid,
            FORMER.imsi,
            "06-12345678",
            FORMER.puk,
            "geblokkeerd",
            FORMER.imei,
            "Apple iPhone 11",
            FORMER.name,
            FORMER.email,
            "KP-4100 Vloot",
            "Opgezegd",
            (now - timedelta(days=1400)).date(),
        ],
        [
            "Bakkerij De Vries",
            NAMESAKE.iccid,
            NAMESAKE.imsi,
            "06 55501234",
            PUKS[NAMESAKE.key],
            "in gebruik",
            NAMESAKE.imei,
            "Motorola g84",
            "J. de Vries",
            NAMESAKE.email,
            "",
            "Actief",
            (now - timedelta(days=90)).date(),
        ],
    ]


def inventory_workbook() -> bytes:
    """The SIM inventory as XLSX bytes (openpyxl), with the traps described above."""
    book = Workbook()
    sheet = book.active
    sheet.title = "SIM-kaarten"
    sheet.cell(row=1, column=1, value="Mobiele abonnementen - export mobiele administratie")
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    column = 1
    for text, span in HEADER_GROUPS:
        sheet.cell(row=3, column=column, value=text)
        if span > 1:
            sheet.merge_cells(
                start_row=3, start_column=column, end_row=3, end_column=column + span - 1
            )
        column += span
    for index, text in enumerate(HEADER, start=1):
        if text in ("Klant", "Status", "Actief sinds"):
            # a single column's header merged down over both header rows
            sheet.merge_cells(start_row=3, start_column=index, end_row=4, end_column=index)
            continue
        sheet.cell(row=4, column=index, value=text)
    row_number = 5
    for row in _inventory_rows():
        if row is not None:
            for index, value in enumerate(row, start=1):
                sheet.cell(row=row_number, column=index, value=value)
        row_number += 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv(rows: list[list[str]], *, delimiter: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%d-%m-%Y %H:%M")


def roaming_rows() -> list[list[str]]:
    """The roaming log: header and rows, MSISDNs in several notations."""
    now = _today()
    welcome = "Welkom in {country}! Bellen naar NL kost {price} per minuut, data {data} per MB."
    rows = [["Bericht-ID", "Verzonden", "MSISDN", "IMSI", "IMEI", "Land", "Netwerk", "Bericht"]]

    def add(ident: str, days: int, msisdn: str, person: Person, imei: str, country: str) -> None:
        network = {"België": "Proximus", "Duitsland": "Telekom.de", "Frankrijk": "Orange F"}
        rows.append(
            [
                ident,
                _stamp(now - timedelta(days=days, hours=3)),
                msisdn,
                person.imsi,
                imei,
                country,
                network[country],
                welcome.format(country=country, price="€ 0,00", data="€ 0,00"),
            ]
        )

    add("R-2026-0001", 61, "+31612345678", JAN, JAN.imei, "België")
    add("R-2026-0002", 33, "0031 6 12345678", JAN, "3.52099E+14", "Duitsland")
    add("R-2026-0003", 32, "06 87654321", ZOE, ZOE.imei, "Duitsland")
    # registration of Jan's SIM without an MSISDN in the log: found through IMSI/IMEI
    add("R-2026-0004", 12, "", JAN, JAN.imei, "Frankrijk")
    add("R-2026-0005", 5, "316 11122233", PIETER, PIETER.imei, "België")
    return rows


def bundle_rows() -> list[list[str]]:
    """The bundle notification log."""
    now = _today()
    rows = [["Bericht-ID", "Verzonden", "MSISDN", "Bundel", "Verbruik (%)", "Bericht"]]
    text = "U heeft {pct}% van uw bundel {bundle} verbruikt."
    for ident, days, msisdn, bundle, pct in [
        ("B-2026-0101", 20, "0612345678", "NL data 10 GB", "80"),
        ("B-2026-0102", 18, "+31 (0)6 12345678", "NL data 10 GB", "100"),
        ("B-2026-0103", 9, "0644455566", "EU bellen 300 min", "80"),
        ("B-2026-0104", 2, "06-87654321", "NL data 10 GB", "80"),
    ]:
        rows.append(
            [
                ident,
                _stamp(now - timedelta(days=days)),
                msisdn,
                bundle,
                pct,
                text.format(pct=pct, bundle=bundle),
            ]
        )
    return rows


def build_mobile(estate: Path) -> list[dict[str, Any]]:
    """Write the mobile files under ``estate`` and return their sources entries."""
    private_dir(estate / "mobile")
    write_bytes(estate / INVENTORY, inventory_workbook())
    write_bytes(estate / ROAMING, _csv(roaming_rows(), delimiter=";"))
    write_bytes(estate / BUNDLES, _csv(bundle_rows(), delimiter=","))
    return [
        {
            "name": "mobile-inventory",
            "kind": "tabular",
            "description": "SIM and device inventory (XLSX export of the mobile administration)",
            "mapping": "shipped:mobile/sim-inventory.yaml",
            "connection": {"path": f"estate/{INVENTORY}"},
        },
        {
            "name": "roaming-notifications",
            "kind": "tabular",
            "description": "Roaming (border-crossing) notifications per MSISDN (CSV)",
            "mapping": "shipped:mobile/roaming-notifications.yaml",
            "connection": {"path": f"estate/{ROAMING}"},
        },
        {
            "name": "bundle-notifications",
            "kind": "tabular",
            "description": "Bundle usage notifications per MSISDN (CSV)",
            "mapping": "shipped:mobile/bundle-notifications.yaml",
            "connection": {"path": f"estate/{BUNDLES}"},
        },
    ]
