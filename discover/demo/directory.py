"""The demo's directories, as the LDIF exports a client hands over.

* Acme Logistiek runs Active Directory: ``acme-ad.ldif`` is written the way
  ``ldifde`` exports it (``changetype: add``, binary objectGUID/objectSid and
  photos in base64, non-ASCII DNs and values in base64, long lines folded), with
  the people in several OUs, phones in mixed formats (``+31 10 234 5201``,
  ``06-12345678``, ``010-2345201`` in ipPhone, a ``tel:`` URI in msRTCSIP-Line),
  Exchange proxyAddresses, manager links and a group.
* Bakkerij De Vries runs OpenLDAP: ``bakkerij-ldap.ldif`` is a ``slapcat`` export
  (operational attributes, entryUUID) with the namesake Jan de Vries, two mail
  values and a jpegPhoto.

Both are scanned with the shipped directory mappings (kind ldif), so ``discover
demo`` shows identity expansion through a directory without a server: the
subject's e-mail finds his directory entry, whose telephoneNumber, mobile and
ipPhone then find call-detail records, CRM rows and phonebook entries.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import phonenumbers

from discover.demo.people import ACME, BAKKERIJ, FATIMA, JAN, NAMESAKE, PIETER, ZOE, Person
from discover.files import write_bytes
from discover.identifiers import fold_text

ACME_BASE = "DC=acme,DC=local"
BAKKERIJ_BASE = "dc=bakkerijdevries,dc=nl"
_NAMESPACE = uuid.UUID("6f1c1f3e-2c55-4a8e-9a43-5d1f0c0de0a1")
_DOMAIN_SID = (21, 3623811015, 3361044348, 30300820)

Value = str | bytes
Entry = list[tuple[str, Value]]


def _national(e164: str, separator: str = " ") -> str:
    number = phonenumbers.parse(e164)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return text.replace(" ", separator)


def _international(e164: str) -> str:
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _area_dash(e164: str) -> str:
    """'010-2345201': area code, dash, subscriber number (a common Dutch spelling)."""
    area, _, rest = _national(e164).partition(" ")
    return f"{area}-{rest.replace(' ', '')}"


def _photo(person: Person) -> bytes:
    """A small stand-in JPEG (SOI, JFIF header, a comment, EOI): bytes, not text."""
    comment = f"demo photo of {person.key}".encode()
    return (
        bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
        + b"\xff\xfe"
        + (len(comment) + 2).to_bytes(2, "big")
        + comment
        + hashlib.sha256(comment).digest()
        + b"\xff\xd9"
    )


def _guid(person_key: str) -> bytes:
    return uuid.uuid5(_NAMESPACE, person_key).bytes_le


def _sid(rid: int) -> bytes:
    subs = (*_DOMAIN_SID, rid)
    return (
        bytes([1, len(subs)])
        + (5).to_bytes(6, "big")
        + b"".join(sub.to_bytes(4, "little") for sub in subs)
    )


def _safe(value: str) -> bool:
    """RFC 2849 SAFE-STRING: ASCII, no NUL/CR/LF, no leading space, ':' or '<'."""
    if not value:
        return True
    if value[0] in " :<" or value[-1] == " ":
        return False
    return all(32 <= ord(ch) < 127 for ch in value)


def _fold(line: str, width: int = 76) -> list[str]:
    if len(line) <= width:
        return [line]
    parts = [line[:width]]
    parts += [" " + line[i : i + width - 1] for i in range(width, len(line), width - 1)]
    return parts


def ldif_record(dn: str, attributes: Entry, *, changetype: bool = False) -> str:
    """One LDIF record: base64 where RFC 2849 requires it, folded at 76 columns."""
    lines: list[str] = []
    pairs: list[tuple[str, Value]] = [("dn", dn)]
    if changetype:
        pairs.append(("changetype", "add"))
    pairs += attributes
    for name, value in pairs:
        if isinstance(value, bytes) or not _safe(value):
            data = value if isinstance(value, bytes) else value.encode("utf-8")
            line = f"{name}:: {base64.b64encode(data).decode('ascii')}"
        else:
            line = f"{name}: {value}"
        lines.extend(_fold(line))
    return "\n".join(lines) + "\n"


def _acme_dn(person: Person, ou: str) -> str:
    return f"CN={person.name},OU={ou},OU=Acme,{ACME_BASE}"


_ACME_OUS = {JAN.key: "Management", ZOE.key: "Planning", PIETER.key: "Drivers"}
_ACME_OUS[FATIMA.key] = "Office"


def _acme_user(person: Person, rid: int, extra: Entry) -> tuple[str, Entry]:
    domain = ACME.domain
    local = person.email.split("@")[0]
    entry: Entry = [
        ("objectClass", "top"),
        ("objectClass", "person"),
        ("objectClass", "organizationalPerson"),
        ("objectClass", "user"),
        ("cn", person.name),
        ("sn", person.family),
        ("givenName", person.given),
        ("displayName", person.name),
        ("title", person.role),
        ("department", _ACME_OUS[person.key]),
        ("company", ACME.name),
        ("sAMAccountName", fold_text(person.given[0] + person.family).replace(" ", "")),
        ("userPrincipalName", f"{local}@acme.local"),
        ("mail", local.title() + "@" + domain),  # stored with capitals, found all the same
        ("proxyAddresses", f"SMTP:{person.email}"),
        ("proxyAddresses", f"smtp:{local}@acme.onmicrosoft.example"),
        ("proxyAddresses", f"X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn={local}"),
        ("telephoneNumber", _international(person.desk)),
        ("ipPhone", _area_dash(person.desk)),
        ("mobile", _national(person.mobile, "-")),
        ("msRTCSIP-Line", f"tel:{person.desk};ext={person.extension}"),
        ("msRTCSIP-PrimaryUserAddress", f"sip:{local}@{domain}"),
        ("employeeID", f"ACME-{1000 + rid % 1000}"),
        ("streetAddress", ACME.street),
        ("postalCode", f"{ACME.postcode[:4]} {ACME.postcode[4:]}"),
        ("l", ACME.city),
        ("whenCreated", "20230301080000.0Z"),
        ("objectGUID", _guid(person.key)),
        ("objectSid", _sid(rid)),
        *extra,
    ]
    return _acme_dn(person, _ACME_OUS[person.key]), entry


def acme_ad_ldif() -> str:
    """Acme's Active Directory as ``ldifde -f acme-ad.ldif`` would export it."""
    planning = f"CN=Planning,OU=Groups,OU=Acme,{ACME_BASE}"
    jan_dn = _acme_dn(JAN, "Management")
    zoe_dn = _acme_dn(ZOE, "Planning")
    users = [
        _acme_user(
            JAN,
            1105,
            [
                ("manager", _acme_dn(FATIMA, "Office")),
                ("memberOf", planning),
                ("jpegPhoto", _photo(JAN)),
                ("thumbnailPhoto", _photo(JAN)[:48]),
            ],
        ),
        _acme_user(ZOE, 1106, [("manager", jan_dn), ("memberOf", planning)]),
        _acme_user(PIETER, 1107, [("manager", jan_dn), ("otherMobile", _national(PIETER.mobile))]),
        _acme_user(FATIMA, 1108, [("otherTelephone", _national(ACME.switchboard, "-"))]),
    ]
    records = [
        "# ldifde export of Acme Logistiek B.V. (demo data: invented people)\n",
        ldif_record(
            f"OU=Acme,{ACME_BASE}",
            [("objectClass", "top"), ("objectClass", "organizationalUnit"), ("ou", "Acme")],
            changetype=True,
        ),
    ]
    for ou in ("Management", "Planning", "Drivers", "Office", "Groups"):
        records.append(
            ldif_record(
                f"OU={ou},OU=Acme,{ACME_BASE}",
                [("objectClass", "top"), ("objectClass", "organizationalUnit"), ("ou", ou)],
                changetype=True,
            )
        )
    records += [ldif_record(dn, entry, changetype=True) for dn, entry in users]
    records.append(
        ldif_record(
            planning,
            [
                ("objectClass", "top"),
                ("objectClass", "group"),
                ("cn", "Planning"),
                ("sAMAccountName", "planning"),
                ("description", "Planners and the fleet manager"),
                ("member", jan_dn),
                ("member", zoe_dn),
                ("objectGUID", _guid("group-planning")),
            ],
            changetype=True,
        )
    )
    return "\n".join(records)


def bakkerij_ldif() -> str:
    """Bakkerij De Vries' OpenLDAP as ``slapcat`` exports it (operational attributes)."""

    def operational(key: str) -> Entry:
        return [
            ("structuralObjectClass", "inetOrgPerson"),
            ("entryUUID", str(uuid.uuid5(_NAMESPACE, key))),
            ("creatorsName", f"cn=admin,{BAKKERIJ_BASE}"),
            ("createTimestamp", "20240312101500Z"),
            ("entryCSN", "20240312101500.000000Z#000000#000#000000"),
            ("modifiersName", f"cn=admin,{BAKKERIJ_BASE}"),
            ("modifyTimestamp", "20240312101500Z"),
        ]

    base: Iterable[tuple[str, Entry]] = [
        (
            BAKKERIJ_BASE,
            [
                ("objectClass", "top"),
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("o", BAKKERIJ.name),
                ("dc", "bakkerijdevries"),
            ],
        ),
        (
            f"ou=people,{BAKKERIJ_BASE}",
            [("objectClass", "organizationalUnit"), ("ou", "people")],
        ),
        (
            f"uid=jan,ou=people,{BAKKERIJ_BASE}",
            [
                ("objectClass", "inetOrgPerson"),
                ("uid", "jan"),
                ("cn", NAMESAKE.name),
                ("sn", NAMESAKE.family),
                ("givenName", NAMESAKE.given),
                ("title", NAMESAKE.role),
                ("mail", NAMESAKE.email),
                ("mail", f"bestellingen@{BAKKERIJ.domain}"),
                ("telephoneNumber", _national(NAMESAKE.desk, "-")),
                ("mobile", _international(NAMESAKE.mobile)),
                ("postalAddress", f"{BAKKERIJ.street}$2611 GP {BAKKERIJ.city}"),
                ("jpegPhoto", _photo(NAMESAKE)),
                ("userPassword", "{SSHA}ZGVtby1vbmx5LW5vdC1hLXJlYWwtaGFzaA=="),
                *operational(NAMESAKE.key),
            ],
        ),
    ]
    records = [ldif_record(dn, entry) for dn, entry in base]
    return "# slapcat -n 1 (demo data)\n" + "\n".join(records)


def build_directory(estate: Path) -> list[dict[str, Any]]:
    """Write both LDIF exports under ``estate`` and return their sources entries."""
    write_bytes(estate / "acme-ad.ldif", acme_ad_ldif().encode("utf-8"))
    write_bytes(estate / "bakkerij-ldap.ldif", bakkerij_ldif().encode("utf-8"))
    return [
        {
            "name": "acme-directory",
            "kind": "ldif",
            "description": "Acme's Active Directory (ldifde export), managed by the provider",
            "mapping": "shipped:directory/active-directory.yaml",
            "client": ACME.name,
            "connection": {"path": "estate/acme-ad.ldif", "base_dn": ACME_BASE},
        },
        {
            "name": "bakkerij-directory",
            "kind": "ldif",
            "description": "Bakkerij De Vries' OpenLDAP directory (slapcat export)",
            "mapping": "shipped:directory/inetorgperson.yaml",
            "client": BAKKERIJ.name,
            "connection": {"path": "estate/bakkerij-ldap.ldif", "base_dn": BAKKERIJ_BASE},
        },
    ]
