"""The demo's customer databases: a CRM and a telephony platform.

Built with SQLAlchemy Core so that the same estate can be created in SQLite (the
demo), PostgreSQL or MariaDB (the connector tests). Identifiers are stored in the
surface formats real systems use: mixed-case e-mail, ``06-1234 5678``, the switch
format ``316…`` in call-detail records, ``0031 …`` in the call recorder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from discover.demo.people import (
    ACME,
    FATIMA,
    JAN,
    NAMESAKE,
    ORGANISATIONS,
    PEOPLE,
    PIETER,
    ZOE,
    Person,
    organisation,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def crm_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "organisations",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100)),
        sa.Column("billing_name", sa.String(100)),
        sa.Column("switchboard", sa.String(30)),
        sa.Column("street", sa.String(100)),
        sa.Column("postcode", sa.String(10)),
        sa.Column("city", sa.String(60)),
    )
    sa.Table(
        "contacts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("organisation_id", sa.Integer),
        sa.Column("full_name", sa.String(100)),
        sa.Column("email", sa.String(120)),
        sa.Column("phone", sa.String(30)),
        sa.Column("mobile", sa.String(30)),
        sa.Column("job_title", sa.String(60)),
        sa.Column("created_at", sa.DateTime),
    )
    sa.Table(
        "support_tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contact_id", sa.Integer),
        sa.Column("reporter_email", sa.String(120)),
        sa.Column("callback_number", sa.String(30)),
        sa.Column("opened_at", sa.DateTime),
        sa.Column("subject", sa.String(200)),
        sa.Column("body", sa.Text),
    )
    sa.Table(
        "call_recordings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("caller_number", sa.String(30)),
        sa.Column("started_at", sa.DateTime),
        sa.Column("duration_s", sa.Integer),
        sa.Column("storage_ref", sa.String(100)),
    )
    sa.Table(
        "internet_lines",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("organisation_id", sa.Integer),
        sa.Column("technical_contact_id", sa.Integer),
        sa.Column("service_id", sa.String(30)),
        sa.Column("line_id", sa.String(30)),
        sa.Column("public_ip", sa.String(45)),
        sa.Column("pppoe_password", sa.String(60)),
    )
    sa.Table(
        "website_accounts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("login_email", sa.String(120)),
        sa.Column("display_name", sa.String(100)),
        sa.Column("password_hash", sa.String(100)),
        sa.Column("last_login", sa.DateTime),
        sa.Column("visits_last_month", sa.Integer),
        sa.Column("analytics_cookie", sa.String(60)),
    )
    return metadata


def _national(e164: str, *, dash: bool = True) -> str:
    digits = "0" + e164[3:]
    if digits.startswith("06"):
        return f"06-{digits[2:6]} {digits[6:]}" if dash else f"06 {digits[2:]}"
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def _contact_rows() -> list[dict[str, object]]:
    now = _now()
    rows = []
    spellings = {
        JAN.key: "Jan.DeVries@Acme-Logistiek.NL",
        ZOE.key: "zoe.celik@acme-logistiek.nl",
        PIETER.key: "Pieter.Bakker@acme-logistiek.nl",
        FATIMA.key: "FATIMA.ELAMRANI@ACME-LOGISTIEK.NL",
        NAMESAKE.key: "jan@bakkerijdevries.nl",
    }
    for index, person in enumerate(PEOPLE, start=1):
        org = organisation(person.organisation)
        rows.append(
            {
                "id": index,
                "organisation_id": ORGANISATIONS.index(org) + 1,
                "full_name": person.name,
                "email": spellings[person.key],
                # Acme's staff list the switchboard as their phone: a shared number.
                "phone": _national(org.switchboard) if org is ACME else _national(person.desk),
                "mobile": _national(person.mobile),
                "job_title": person.role,
                "created_at": now - timedelta(days=400 + index),
            }
        )
    return rows


def build_crm(engine: sa.Engine) -> None:
    """Create and fill the CRM tables."""
    metadata = crm_metadata()
    metadata.create_all(engine)
    now = _now()
    tables = metadata.tables
    with engine.begin() as connection:
        connection.execute(
            tables["organisations"].insert(),
            [
                {
                    "id": index,
                    "name": org.name,
                    "billing_name": f"{org.name} (t.a.v. crediteurenadministratie)",
                    "switchboard": _national(org.switchboard),
                    "street": org.street,
                    "postcode": f"{org.postcode[:4]} {org.postcode[4:]}",
                    "city": org.city,
                }
                for index, org in enumerate(ORGANISATIONS, start=1)
            ],
        )
        connection.execute(tables["contacts"].insert(), _contact_rows())
        connection.execute(
            tables["support_tickets"].insert(),
            [
                {
                    "id": 1,
                    "contact_id": 1,
                    "reporter_email": "jan.devries@acme-logistiek.nl",
                    "callback_number": "+31 (0)6 12345678",
                    "opened_at": now - timedelta(days=40),
                    "subject": "Voicemail werkt niet op toestel 201",
                    "body": "Sinds de update hoor ik geen voicemail meer op mijn bureautoestel.",
                },
                {
                    "id": 2,
                    "contact_id": 2,
                    "reporter_email": "zoe.celik@acme-logistiek.nl",
                    "callback_number": "06 87654321",
                    "opened_at": now - timedelta(days=12),
                    "subject": "Nieuwe simkaart",
                    "body": "Graag een vervangende simkaart voor mijn mobiel.",
                },
                {
                    "id": 3,
                    "contact_id": None,
                    "reporter_email": "JAN.DEVRIES@acme-logistiek.nl",
                    "callback_number": None,
                    "opened_at": now - timedelta(days=4 * 365),
                    "subject": "Wachtwoord portal vergeten",
                    "body": "Kan ik een nieuw wachtwoord krijgen voor de klantportal?",
                },
                {
                    "id": 4,
                    "contact_id": 5,
                    "reporter_email": "jan@bakkerijdevries.nl",
                    "callback_number": "015-2123410",
                    "opened_at": now - timedelta(days=3),
                    "subject": "Storing pinautomaat",
                    "body": "De pinautomaat in de winkel heeft geen verbinding.",
                },
            ],
        )
        connection.execute(
            tables["call_recordings"].insert(),
            [
                {
                    "id": 1,
                    "ticket_id": 1,
                    "caller_number": "0031 6 1234 5678",
                    "started_at": now - timedelta(days=40),
                    "duration_s": 312,
                    "storage_ref": "rec/2026/0001.opus",
                },
                {
                    "id": 2,
                    "ticket_id": 2,
                    "caller_number": "0031 6 8765 4321",
                    "started_at": now - timedelta(days=12),
                    "duration_s": 95,
                    "storage_ref": "rec/2026/0002.opus",
                },
                {
                    "id": 3,
                    "ticket_id": None,
                    "caller_number": "0031612345678",
                    "started_at": now - timedelta(days=200),
                    "duration_s": 41,
                    "storage_ref": "rec/2026/0003.opus",
                },
            ],
        )
        connection.execute(
            tables["internet_lines"].insert(),
            [
                {
                    "id": 1,
                    "organisation_id": 1,
                    "technical_contact_id": 1,
                    "service_id": "SVC-ACME-0001",
                    "line_id": "LINE-7734-2201",
                    "public_ip": "198.51.100.23",
                    "pppoe_password": "Pp0e-Acme!2026",
                },
                {
                    "id": 2,
                    "organisation_id": 2,
                    "technical_contact_id": 5,
                    "service_id": "SVC-BAKK-0002",
                    "line_id": "LINE-1180-0042",
                    "public_ip": "203.0.113.77",
                    "pppoe_password": "Bakk3rij#Line",
                },
            ],
        )
        connection.execute(
            tables["website_accounts"].insert(),
            [
                {
                    "id": 1,
                    "login_email": "JAN.DEVRIES@ACME-LOGISTIEK.NL",
                    "display_name": "Jan de Vries",
                    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$ZGVtbw$ZGVtb2hhc2g",
                    "last_login": now - timedelta(days=2),
                    "visits_last_month": 14,
                    "analytics_cookie": "GA1.2.1180042.1764300000",
                },
                {
                    "id": 2,
                    "login_email": "zoe.celik@acme-logistiek.nl",
                    "display_name": "Zoë Çelik",
                    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$ZGVtbw$b3RoZXJoYXNo",
                    "last_login": now - timedelta(days=30),
                    "visits_last_month": 3,
                    "analytics_cookie": "GA1.2.9931001.1764300000",
                },
            ],
        )


def telephony_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "cdr",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("calling_number", sa.String(20)),
        sa.Column("called_number", sa.String(20)),
        sa.Column("start_time", sa.DateTime),
        sa.Column("duration_s", sa.Integer),
        sa.Column("cell_id", sa.String(20)),
        sa.Column("charge_eur", sa.Numeric(10, 4)),
    )
    sa.Table(
        "retained_traffic",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(20)),
        sa.Column("assigned_ip", sa.String(45)),
        sa.Column("session_start", sa.DateTime),
        sa.Column("session_end", sa.DateTime),
        sa.Column("bytes_total", sa.BigInteger),
    )
    sa.Table(
        "user_recordings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msisdn", sa.String(20)),
        sa.Column("other_party", sa.String(20)),
        sa.Column("recorded_at", sa.DateTime),
        sa.Column("file_ref", sa.String(100)),
    )
    return metadata


def _switch(e164: str) -> str:
    return e164.lstrip("+")


def _cdr_rows(people: tuple[Person, ...]) -> list[dict[str, object]]:
    now = _now()
    rows: list[dict[str, object]] = []
    others = ["31201234567", "31307654321", "4930123456", "31887777900"]
    for person in people:
        for n in range(6):
            rows.append(
                {
                    "id": len(rows) + 1,
                    "calling_number": _switch(person.mobile),
                    "called_number": others[n % len(others)],
                    # two records per person are older than the 6-month retention
                    "start_time": now - timedelta(days=10 + n * 45),
                    "duration_s": 60 + 17 * n,
                    "cell_id": f"NL-204-04-{1100 + n}",
                    "charge_eur": f"{0.0125 * (n + 1):.4f}",
                }
            )
    # a call between two Acme colleagues: Zoë calls Jan
    rows.append(
        {
            "id": len(rows) + 1,
            "calling_number": _switch(ZOE.mobile),
            "called_number": _switch(JAN.mobile),
            "start_time": now - timedelta(days=5),
            "duration_s": 120,
            "cell_id": "NL-204-04-1200",
            "charge_eur": "0.0000",
        }
    )
    return rows


def build_telephony(engine: sa.Engine) -> None:
    """Create and fill the telephony platform's tables."""
    metadata = telephony_metadata()
    metadata.create_all(engine)
    now = _now()
    tables = metadata.tables
    with engine.begin() as connection:
        connection.execute(tables["cdr"].insert(), _cdr_rows(PEOPLE))
        connection.execute(
            tables["retained_traffic"].insert(),
            [
                {
                    "id": 1,
                    "msisdn": "316 12345678",
                    "assigned_ip": "100.64.12.7",
                    "session_start": now - timedelta(days=20, hours=3),
                    "session_end": now - timedelta(days=20),
                    "bytes_total": 48_213_117,
                },
                {
                    "id": 2,
                    "msisdn": "316 87654321",
                    "assigned_ip": "100.64.12.9",
                    "session_start": now - timedelta(days=2, hours=1),
                    "session_end": now - timedelta(days=2),
                    "bytes_total": 1_020_334,
                },
            ],
        )
        connection.execute(
            tables["user_recordings"].insert(),
            [
                {
                    "id": 1,
                    "msisdn": "+31612345678",
                    "other_party": "+31201234567",
                    "recorded_at": now - timedelta(days=8),
                    "file_ref": "userrec/acme/201/0001.wav",
                },
            ],
        )
