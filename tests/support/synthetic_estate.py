"""A synthetic estate of any size, for batch tests, benchmarks and trying batch jobs.

It has the demo estate's shape (the shipped ``demo/crm.yaml`` and
``demo/telephony.yaml`` mappings) filled with generated people: organisations of
twenty people, a third of which list the company switchboard as everyone's phone
(a shared number the engine must stop at); each person with an e-mail address in
mixed case, a mobile number and a desk number in varying surface formats;
support tickets, call recordings, internet lines and website accounts; call-detail
records between people's mobiles in switch format (``316…``); retained traffic and
user recordings. Names repeat every 200 people, so larger estates have namesakes.

Everything is a function of the person's or row's index: the same size always gives
the same estate, and :func:`person` tells a test what any person's identifiers are.
SQLite files are written with ``executemany`` in large transactions, so a million
contacts and five million call records take a minute or two, not an hour.

Optionally a mobile inventory (CSV: ICCID, IMSI, MSISDN, IMEI, user per person) is
written and searched with the tabular connector and the shipped inventory mapping.
"""

from __future__ import annotations

import csv
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from connectors import KINDS
from discover.config import shipped_path
from discover.demo.databases import crm_metadata, telephony_metadata
from discover.files import private_dir, write_bytes

ORG_SIZE = 20
GIVEN = [
    "Jan",
    "Pieter",
    "Kees",
    "Henk",
    "Fatima",
    "Zoë",
    "Anouk",
    "Sanne",
    "Mohamed",
    "Daan",
    "Lotte",
    "Emma",
    "Noah",
    "Sem",
    "Julia",
    "Mila",
    "Lucas",
    "Tess",
    "Bram",
    "Sophie",
    "Finn",
    "Eva",
    "Levi",
    "Saar",
    "Milan",
    "Nora",
    "Jesse",
    "Lieke",
    "Thijs",
    "Fleur",
    "Ruben",
    "Iris",
    "Stijn",
    "Yara",
    "Niels",
    "Ilse",
    "Mehmet",
    "Ayşe",
    "Björn",
    "Chloé",
]
FAMILY = [
    "de Vries",
    "Jansen",
    "de Jong",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van den Berg",
    "van der Heijden",
    "Çelik",
    "El Amrani",
    "Yılmaz",
    "Schouten",
    "van Beek",
    "Willems",
    "van Vliet",
    "van de Ven",
    "Hoekstra",
    "Maas",
    "Verhoeven",
    "Koster",
    "van Dam",
    "van der Wal",
    "Prins",
    "Blom",
    "Huisman",
    "Peeters",
    "de Bruijn",
    "Kuipers",
    "Postma",
]
_NAME_PERIOD = 200
_MOBILE_SPAN = 50_000_000  # +316 1000 0000 … +316 5999 9999


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


@dataclass(frozen=True, slots=True)
class SynthPerson:
    """One generated person's identifiers (canonical forms)."""

    index: int
    organisation: int
    name: str
    email: str
    mobile: str
    desk: str

    @property
    def shares_switchboard(self) -> bool:
        return shared_switchboard(self.organisation)


def shared_switchboard(organisation: int) -> bool:
    """A third of the organisations list the switchboard as every contact's phone."""
    return organisation % 3 == 0


def switchboard(organisation: int) -> str:
    return f"+3120{(organisation * 7 + 1_000_003) % 10_000_000:07d}"


@cache
def _names(position: int) -> tuple[str, str, str]:
    """Given name, family name and e-mail local part of a name position (0-199)."""
    given, family = GIVEN[position % len(GIVEN)], FAMILY[(position * 7) % len(FAMILY)]
    return given, family, _ascii(f"{given}.{family.replace(' ', '')}".lower())


def _ascii(text: str) -> str:
    """E-mail local parts in plain ASCII (Çelik -> celik, Yılmaz -> yilmaz)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ı", "i"))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def mobile_of(index: int) -> str:
    """Person ``index``'s mobile number (E.164), unique per person."""
    return f"+316{(index * 7919 + 1_234_567) % _MOBILE_SPAN + 10_000_000:08d}"


def person(index: int) -> SynthPerson:
    """The identifiers of person ``index`` (0-based)."""
    given, family, local = _names(index % _NAME_PERIOD)
    organisation = index // ORG_SIZE
    email = f"{local}.{index}@org{organisation}.example.nl"
    mobile = mobile_of(index)
    desk = f"+3110{(index * 7 + 3) % 10_000_000:07d}"
    return SynthPerson(index, organisation, f"{given} {family}", email, mobile, desk)


def _national(e164: str, style: int) -> str:
    """Surface forms real systems use for one number."""
    national = "0" + e164[3:]
    if style == 0:
        return f"{national[:2]}-{national[2:6]} {national[6:]}"
    if style == 1:
        return national
    if style == 2:
        return f"+31 {national[1:2]} {national[2:]}"
    return f"0031 {national[1:2]} {national[2:6]} {national[6:]}"


def _email_surface(email: str, style: int) -> str:
    local, _, domain = email.partition("@")
    if style == 0:
        return email
    if style == 1:
        return f"{local.title()}@{domain.title()}"
    return email.upper()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _luhn_digit(digits: str) -> str:
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def iccid(index: int) -> str:
    body = f"893104{(index * 104_729 + 77) % 10**12:012d}"
    return body + _luhn_digit(body)


def imei(index: int) -> str:
    body = f"35{(index * 15_485_863 + 11) % 10**12:012d}"
    return body + _luhn_digit(body)


def imsi(index: int) -> str:
    return f"20404{(index * 7 + 5) % 10**10:010d}"


@dataclass(frozen=True, slots=True)
class Sizes:
    people: int = 300
    cdrs: int = 3_000
    inventory: int = 0


@dataclass(frozen=True, slots=True)
class SynthEstate:
    root: Path
    sizes: Sizes

    @property
    def sources(self) -> Path:
        return self.root / "sources.yaml"

    @property
    def crm(self) -> Path:
        return self.root / "estate" / "crm.sqlite"

    @property
    def telephony(self) -> Path:
        return self.root / "estate" / "telephony.sqlite"

    @property
    def inventory(self) -> Path:
        return self.root / "estate" / "inventory.csv"


def _create(path: Path, metadata: sa.MetaData) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def _insert(
    connection: sqlite3.Connection, table: str, rows: Iterable[tuple[Any, ...]], width: int
) -> None:
    marks = ", ".join("?" * width)
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 100_000:
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
            batch.clear()
    if batch:
        connection.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
    connection.commit()


def _organisations(count: int) -> Iterator[tuple[Any, ...]]:
    for org in range(count):
        board = switchboard(org)
        yield (
            org + 1,
            f"Klant {org} B.V.",
            f"Klant {org} B.V. (t.a.v. crediteurenadministratie)",
            f"0{board[3:5]} {board[5:8]} {board[8:]}",
            f"Havenstraat {org % 300 + 1}",
            f"{1000 + org % 8999} {'AB' if org % 2 else 'KL'}",
            "Rotterdam" if org % 2 else "Amsterdam",
        )


def _contacts(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    for index in range(count):
        p = person(index)
        phone = switchboard(p.organisation) if p.shares_switchboard else p.desk
        yield (
            index + 1,
            p.organisation + 1,
            p.name,
            _email_surface(p.email, index % 3),
            _national(phone, (index + 1) % 4),
            _national(p.mobile, index % 4),
            "employee",
            _stamp(now - timedelta(days=100 + index % 900)),
        )


def build_crm(path: Path, people: int) -> None:
    """The CRM: organisations, contacts and what hangs off them."""
    _create(path, crm_metadata())
    now = _now()
    connection = _connect_existing(path)
    organisations = (people + ORG_SIZE - 1) // ORG_SIZE
    _insert(connection, "organisations", _organisations(organisations), 7)
    _insert(connection, "contacts", _contacts(people, now), 8)
    _insert(
        connection,
        "support_tickets",
        (
            (
                t + 1,
                index + 1,
                person(index).email,
                _national(person(index).mobile, 2 + t % 2),
                _stamp(now - timedelta(days=3 + t % 1500)),
                f"Ticket {t}",
                "Storing op de lijn; graag terugbellen.",
            )
            for t, index in enumerate(range(0, people, 4))
        ),
        7,
    )
    _insert(
        connection,
        "call_recordings",
        (
            (
                r + 1,
                t + 1,
                _national(person(t * 4).mobile, 3),
                _stamp(now - timedelta(days=3 + t % 300)),
                30 + t % 600,
                f"rec/{t}.opus",
            )
            for r, t in enumerate(range(0, (people + 3) // 4, 2))
        ),
        6,
    )
    _insert(
        connection,
        "internet_lines",
        (
            (
                org + 1,
                org + 1,
                org * ORG_SIZE + 1,
                f"SVC-{org:07d}",
                f"LINE-{org:07d}",
                f"198.{18 + (org >> 16) % 2}.{(org >> 8) % 256}.{org % 256}",
                f"secret-{org}",
            )
            for org in range(organisations)
        ),
        7,
    )
    _insert(
        connection,
        "website_accounts",
        (
            (
                a + 1,
                person(index).email.upper(),
                person(index).name,
                f"$argon2id$v=19$synthetic${index}",
                _stamp(now - timedelta(days=1 + index % 60)),
                index % 30,
                f"GA1.2.{index}.1764300000",
            )
            for a, index in enumerate(range(0, people, 3))
        ),
        7,
    )
    connection.executescript(
        """
        CREATE INDEX contacts_organisation ON contacts (organisation_id);
        CREATE INDEX tickets_contact ON support_tickets (contact_id);
        CREATE INDEX recordings_ticket ON call_recordings (ticket_id);
        CREATE INDEX lines_contact ON internet_lines (technical_contact_id);
        """
    )
    connection.close()


def _connect_existing(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    return connection


def _cdrs(count: int, people: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    externals = ("31201234567", "4930123456", "31887777900", "3227001234")
    switch = [mobile_of(index)[1:] for index in range(people)]
    for row in range(count):
        caller = (row * 2_654_435_761) % people
        callee = (row * 40_503 + 17) % people
        called = externals[row % len(externals)] if row % 5 == 0 else switch[callee]
        yield (
            row + 1,
            switch[caller],
            called,
            _stamp(now - timedelta(minutes=row % 400_000)),
            row % 900,
            f"NL-204-04-{row % 5000}",
            f"{(row % 700) / 1000:.4f}",
        )


def build_telephony(path: Path, people: int, cdrs: int) -> None:
    """The telephony platform: call-detail records, retained traffic, user recordings."""
    _create(path, telephony_metadata())
    now = _now()
    connection = _connect_existing(path)
    _insert(connection, "cdr", _cdrs(cdrs, people, now), 7)
    _insert(
        connection,
        "retained_traffic",
        (
            (
                r + 1,
                f"316 {person(index).mobile[4:]}",
                f"100.64.{(index >> 8) % 256}.{index % 256}",
                _stamp(now - timedelta(days=1 + index % 170, hours=2)),
                _stamp(now - timedelta(days=1 + index % 170)),
                index * 1000,
            )
            for r, index in enumerate(range(0, people, 5))
        ),
        6,
    )
    _insert(
        connection,
        "user_recordings",
        (
            (
                r + 1,
                person(index).mobile,
                person((index + 1) % people).mobile,
                _stamp(now - timedelta(days=2 + index % 100)),
                f"userrec/{index}.wav",
            )
            for r, index in enumerate(range(0, people, 10))
        ),
        5,
    )
    connection.close()


INVENTORY_HEADER = (
    "Klant",
    "ICCID",
    "IMSI",
    "MSISDN",
    "PUK",
    "IMEI",
    "Model",
    "Naam",
    "E-mail",
    "Kostenplaats",
    "Status",
    "Actief sinds",
)


def build_inventory(path: Path, rows: int) -> None:
    """Mobile inventory (CSV, the shipped inventory mapping's columns): one SIM per person.

    Every 50th SIM is retired ("Opgezegd"): matched by ICCID, IMSI, IMEI, e-mail or
    name, never by its (re-issued) number alone.
    """
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INVENTORY_HEADER)
        for index in range(rows):
            given, family, local = _names(index % _NAME_PERIOD)
            organisation = index // ORG_SIZE
            writer.writerow(
                [
                    f"Klant {organisation} B.V.",
                    iccid(index),
                    imsi(index),
                    _national(mobile_of(index), index % 4),
                    f"{(index * 7 + 11) % 100_000_000:08d}",
                    imei(index),
                    "Fairphone 5" if index % 2 else "iPhone 15",
                    f"{given} {family}",
                    f"{local}.{index}@org{organisation}.example.nl",
                    f"KP-{organisation % 97:02d}",
                    "Opgezegd" if index % 50 == 49 else "Actief",
                    f"2025-{index % 12 + 1:02d}-{index % 28 + 1:02d}",
                ]
            )


def _inventory_source(root: Path) -> dict[str, Any]:
    """The shipped inventory mapping with a one-row header, as a source of this estate."""
    document = yaml.safe_load(shipped_path("mobile", "sim-inventory.yaml").read_text("utf-8"))
    document["read"] = {"sheets": 0, "header_row": 1}
    write_bytes(
        root / "inventory.yaml", yaml.safe_dump(document, allow_unicode=True).encode("utf-8")
    )
    return {
        "name": "inventory",
        "kind": "tabular",
        "mapping": "inventory.yaml",
        "connection": {"path": "estate/inventory.csv"},
    }


def tabular_available() -> bool:
    """True when the tabular connector is registered (it ships in its own change)."""
    return "tabular" in KINDS and shipped_path("mobile", "sim-inventory.yaml").is_file()


def build(
    root: Path, sizes: Sizes | None = None, *, extra_sources: list[dict[str, Any]] | None = None
) -> SynthEstate:
    """Write the estate and its sources file under ``root``."""
    sizes = sizes or Sizes()
    estate = SynthEstate(root, sizes)
    private_dir(root / "estate")
    build_crm(estate.crm, sizes.people)
    build_telephony(estate.telephony, sizes.people, sizes.cdrs)
    entries: list[dict[str, Any]] = [
        {
            "name": "crm",
            "kind": "sql",
            "mapping": "shipped:demo/crm.yaml",
            "connection": {"url": "sqlite:///estate/crm.sqlite"},
        },
        {
            "name": "telephony",
            "kind": "sql",
            "mapping": "shipped:demo/telephony.yaml",
            "connection": {"url": "sqlite:///estate/telephony.sqlite"},
        },
    ]
    if sizes.inventory and tabular_available():
        build_inventory(estate.inventory, sizes.inventory)
        entries.append(_inventory_source(root))
    entries.extend(extra_sources or [])
    document = {
        "version": 1,
        "settings": {"max_depth": 3, "max_holders": 3},
        "sources": entries,
    }
    write_bytes(
        estate.sources, yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    )
    return estate


def requests_rows(indexes: Iterable[int], *, prefix: str = "REQ-S") -> list[dict[str, str]]:
    """CSV rows (see :mod:`discover.batch.requests`) for these people, in a mix of ways.

    Most by e-mail; every fifth by mobile number alone (national format); every
    seventh by e-mail and name.
    """
    rows = []
    for index in indexes:
        p = person(index)
        row = {"request_id": f"{prefix}-{index:07d}", "email": "", "phone": "", "name": ""}
        if index % 5 == 0:
            row["phone"] = _national(p.mobile, 1)
        else:
            row["email"] = p.email.upper() if index % 2 else p.email
            if index % 7 == 0:
                row["name"] = p.name
        rows.append(row)
    return rows


def write_requests_csv(path: Path, rows: list[dict[str, str]]) -> None:
    columns = list(rows[0]) if rows else ["request_id", "email"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
