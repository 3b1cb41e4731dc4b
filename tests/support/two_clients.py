"""A CRM of several client organisations, in the demo CRM's layout (SQLite).

Eva Smit is the contact person of two clients (she manages the IT of Acme and of the
bakery, each with an internet line she is the technical contact of); Kees is Acme's
only, Mila the bakery's only. Tom is the contact of Café Noord, a client the sources
file does not list, and of a line whose client the CRM left empty. The sources file
lists Acme and the bakery with their CRM organisation numbers.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from discover.demo.databases import crm_metadata

ACME = "Acme Logistiek B.V."
BAKKERIJ = "Bakkerij De Vries"
ACME_CONTACT = {
    "address": "Wijnhaven 12, 3011 WR Rotterdam",
    "privacy_contact": "privacy@acme-logistiek.nl",
    "phone": "+31102345678",
}
BAKKERIJ_CONTACT = {
    "address": "Markt 3, 2611 GP Delft",
    "privacy_contact": "privacy@bakkerijdevries.nl",
    "phone": "+31152123456",
}
EVA = ("email", "eva.smit@smit-ict.nl")
KEES = ("email", "kees.jansen@acme-logistiek.nl")
TOM = ("email", "tom@cafenoord.nl")
CREATED = datetime(2025, 3, 1, 9, 0)

ORGANISATIONS = [
    (1, ACME, "010-2345678", "Wijnhaven 12", "3011 WR", "Rotterdam"),
    (2, BAKKERIJ, "015-2123456", "Markt 3", "2611 GP", "Delft"),
    (3, "Café Noord", "020-6001234", "Noordplein 1", "1031 AA", "Amsterdam"),
]
CONTACTS = [
    (1, 1, "Eva Smit", "Eva.Smit@smit-ict.nl", "06-21212121"),
    (2, 2, "Eva Smit", "eva.smit@smit-ict.nl", "06-21212121"),
    (3, 1, "Kees Jansen", "kees.jansen@acme-logistiek.nl", "06-31313131"),
    (4, 2, "Mila Bos", "mila@bakkerijdevries.nl", "06-41414141"),
    (5, 3, "Tom Visser", "tom@cafenoord.nl", "06-51515151"),
]
LINES = [  # id, organisation, technical contact
    (1, 1, 1),
    (2, 2, 2),
    (3, 1, 3),
    (4, 3, 5),
    (5, None, 5),
]


def build_crm(path: Path) -> None:
    """The CRM as an SQLite file at ``path``."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        metadata = crm_metadata()
        metadata.create_all(engine)
        tables = metadata.tables
        with engine.begin() as connection:
            connection.execute(
                tables["organisations"].insert(),
                [
                    {
                        "id": i,
                        "name": name,
                        "billing_name": name,
                        "switchboard": phone,
                        "street": street,
                        "postcode": postcode,
                        "city": city,
                    }
                    for i, name, phone, street, postcode, city in ORGANISATIONS
                ],
            )
            connection.execute(
                tables["contacts"].insert(),
                [
                    {
                        "id": i,
                        "organisation_id": org,
                        "full_name": name,
                        "email": email,
                        "mobile": mobile,
                        "created_at": CREATED,
                    }
                    for i, org, name, email, mobile in CONTACTS
                ],
            )
            connection.execute(
                tables["internet_lines"].insert(),
                [
                    {
                        "id": i,
                        "organisation_id": org,
                        "technical_contact_id": contact,
                        "service_id": f"SVC-{i:04d}",
                        "line_id": f"LINE-{i:04d}",
                        "public_ip": f"198.51.100.{i}",
                        "pppoe_password": f"secret-{i}",
                    }
                    for i, org, contact in LINES
                ],
            )
    finally:
        engine.dispose()


def clients_block() -> dict[str, Any]:
    """The sources file's clients: each with its CRM organisation number."""
    return {
        ACME: {**ACME_CONTACT, "identifiers": [{"source": "crm", "value": 1}]},
        BAKKERIJ: {**BAKKERIJ_CONTACT, "identifiers": [{"source": "crm", "value": 2}]},
    }


def write_sources(directory: Path, *, clients: bool = True) -> Path:
    """The CRM (built in ``directory``) and a sources file for it, searched with the
    shipped demo CRM mapping."""
    build_crm(directory / "crm.sqlite")
    document: dict[str, Any] = {
        "version": 1,
        "settings": {"max_depth": 3, "max_holders": 3},
        "sources": [
            {
                "name": "crm",
                "kind": "sql",
                "mapping": "shipped:demo/crm.yaml",
                "connection": {"url": "sqlite:///crm.sqlite"},
            }
        ],
    }
    if clients:
        document["clients"] = clients_block()
    path = directory / "sources.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return path
