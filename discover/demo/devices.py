"""The demo's VoIP device inventory: the handsets the platform has seen (CSV).

One row per handset of the demo cast, the MAC in a different notation on every row
(as exports from different platform versions mix them), the PBX (tenant) that scopes
its extension, the last LAN address (RFC 5737 documentation range) and when it was
last seen. Extension 201 on PBX "acme" is Jan de Vries's desk phone: "acme/201".
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from discover.demo.people import FATIMA, JAN, NAMESAKE, PIETER, ZOE, Person
from discover.files import private_dir, write_bytes

DEVICES = "voip/device-inventory.csv"
HEADER = ["MAC-adres", "Laatste IP", "Toestel", "PBX", "Laatst gezien", "Model", "Omschrijving"]


def _notation(mac: str, style: int) -> str:
    pairs = [mac[i : i + 2] for i in range(0, 12, 2)]
    if style == 0:
        return ":".join(pairs).upper()
    if style == 1:
        return ".".join(mac[i : i + 4] for i in range(0, 12, 4))
    if style == 2:
        return "-".join(pairs)
    return mac.upper()


def device_rows() -> list[list[str]]:
    """Header and rows of the device inventory."""
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    handsets: list[tuple[Person, str, str, str]] = [
        (JAN, "acme", "192.0.2.101", "Yealink T54W"),
        (ZOE, "acme", "192.0.2.102", "Yealink T46U"),
        (PIETER, "acme", "192.0.2.103", "Cisco SPA525G2"),
        (FATIMA, "acme", "192.0.2.104", "Grandstream GXP2170"),
        (NAMESAKE, "bakkerij", "192.0.2.210", "Polycom VVX 250"),
    ]
    rows = [list(HEADER)]
    for index, (person, pbx, address, model) in enumerate(handsets):
        seen = now - timedelta(hours=3 + 7 * index)
        rows.append(
            [
                _notation(person.mac, index % 4),
                address,
                person.extension,
                pbx,
                seen.strftime("%Y-%m-%d %H:%M"),
                model,
                f"{person.name} - bureau",
            ]
        )
    return rows


def build_devices(estate: Path) -> list[dict[str, Any]]:
    """Write the device inventory under ``estate`` and return its sources entry."""
    private_dir(estate / "voip")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(device_rows())
    write_bytes(estate / DEVICES, buffer.getvalue().encode("utf-8"))
    return [
        {
            "name": "voip-devices",
            "kind": "tabular",
            "description": "VoIP handsets seen by the platform (MAC, last IP, extension)",
            "mapping": "shipped:voip/device-inventory.yaml",
            "connection": {"path": f"estate/{DEVICES}"},
        }
    ]
