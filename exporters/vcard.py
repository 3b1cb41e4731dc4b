"""Phonebook contacts as vCard (.vcf), which address books and phones import.

Portability packages write the records of category ``voip.contacts`` (the VoIP
phonebook) as ``contacts.vcf``: one vCard per record, vCard 3.0 (RFC 2426) by
default because every contact tool imports it (Outlook, Android, iOS, Google,
Thunderbird), or vCard 4.0 (RFC 6350) on request.

Fields map by their identifier type first (name -> FN/N, phone -> TEL, email ->
EMAIL, extension -> TEL), then by common field names (company -> ORG, title ->
TITLE, given/family names); anything else goes into NOTE as ``field: value`` so no
data is lost. Redacted and withheld values (null after the policy) never appear.
Lines are folded at 75 octets without splitting a UTF-8 character; text is escaped
as both RFCs require. ``N`` holds the person's name only: a phonebook's label such as
"Jan de Vries (bureau)" stays in ``FN`` (what the phone showed) and is dropped from
``N``. An internal extension ("201") cannot be dialled from outside, so vCard 4.0
writes it as ``TEL;VALUE=text`` rather than as a ``tel:`` URI; vCard 3.0's TEL is
text anyway. UIDs are derived from the record's reference, so an import of
a later package updates rather than duplicates a contact.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from discover.identifiers import try_normalise

CONTACTS_CATEGORY = "voip.contacts"
VCARD_FILE = "contacts.vcf"
VCardVersion = Literal["3.0", "4.0"]
_NAMESPACE = uuid.UUID("0f8d1b52-6a8e-4d35-9d3c-5e0d2b7a4c11")

_GIVEN = {"given", "given_name", "first_name", "firstname", "voornaam", "givenname"}
_FAMILY = {"family", "family_name", "last_name", "lastname", "surname", "achternaam", "sn"}
_ORG = {"company", "organisation", "organization", "org", "bedrijf", "company_name"}
_TITLE = {"title", "job_title", "functie", "role"}
_CELL = ("mobile", "mobiel", "cell", "gsm")
_HOME = ("home", "prive", "privé", "private")
_FAX = ("fax",)
#: a label after a name in a phonebook: "Jan de Vries (bureau)", "Piet [mobiel]"
_NAME_LABEL = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\])\s*$")


@dataclass(slots=True)
class Contact:
    """One phonebook record, ready to be written as a vCard."""

    uid: str
    full_name: str | None = None
    given: str | None = None
    family: str | None = None
    org: str | None = None
    title: str | None = None
    phones: list[tuple[str, str]] = field(default_factory=list)  # (type, number)
    extensions: list[str] = field(default_factory=list)  # internal, not dialable
    emails: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str | None:
        if self.full_name:
            return self.full_name
        joined = " ".join(p for p in (self.given, self.family) if p)
        if joined:
            return joined
        if self.org:
            return self.org
        if self.phones:
            return self.phones[0][1]
        if self.extensions:
            return self.extensions[0]
        return self.emails[0] if self.emails else None


def _phone_type(field_name: str) -> str:
    lowered = field_name.lower()
    if any(word in lowered for word in _FAX):
        return "fax"
    if any(word in lowered for word in _CELL):
        return "cell"
    if any(word in lowered for word in _HOME):
        return "home"
    return "work"


def contacts_from_hits(hits: pa.Table) -> list[Contact]:
    """Contacts from the included hits (after the policy) of category voip.contacts."""
    chosen = hits.filter(pc.equal(hits.column("category"), CONTACTS_CATEGORY))
    names = ("source", "location", "record_key", "field", "value", "identifier")
    columns = [chosen.column(n).to_pylist() for n in names]
    contacts: dict[tuple[str, str, str], Contact] = {}
    for source, location, key, name, value, identifier in zip(*columns, strict=True):
        ref = (source, location, key)
        contact = contacts.get(ref)
        if contact is None:
            uid = uuid.uuid5(_NAMESPACE, "\x1f".join(ref))
            contact = contacts[ref] = Contact(uid=f"urn:uuid:{uid}")
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        lowered = name.lower()
        if identifier == "name" and lowered in _GIVEN:
            contact.given = value
        elif identifier == "name" and lowered in _FAMILY:
            contact.family = value
        elif identifier == "name":
            contact.full_name = contact.full_name or value
        elif identifier == "phone":
            number = try_normalise("phone", value) or value
            contact.phones.append((_phone_type(name), number))
        elif identifier == "extension":  # without its client scope ("acme/201" -> "201")
            contact.extensions.append(value.rsplit("/", 1)[-1])
        elif identifier == "email":
            contact.emails.append(value)
        elif lowered in _GIVEN:
            contact.given = value
        elif lowered in _FAMILY:
            contact.family = value
        elif lowered in _ORG:
            contact.org = value
        elif lowered in _TITLE:
            contact.title = value
        else:
            contact.notes.append(f"{name}: {value}")
    return [c for c in contacts.values() if c.display_name]


def escape(text: str) -> str:
    """Escape a text value (RFC 6350 3.4, RFC 2426 4)."""
    return (
        text.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts: list[str] = []
    current = bytearray()
    limit = 75
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            parts.append(current.decode("utf-8"))
            current = bytearray()
            limit = 74  # continuation lines start with a space
        current += encoded
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts) + "\r\n"


def person_name(display: str) -> str:
    """A phonebook name without the labels after it ("Jan de Vries (bureau)")."""
    name = display
    while True:
        stripped = _NAME_LABEL.sub("", name)
        if stripped == name or not stripped:
            return name.strip()
        name = stripped


def _split_name(display: str) -> tuple[str, str]:
    """(family, given) from a full name: the first word is the given name, the rest
    (with Dutch particles: "de Vries") the family name; labels are dropped."""
    given, _, family = person_name(display).partition(" ")
    return family, given


def vcard(contact: Contact, version: VCardVersion = "3.0") -> str:
    """One contact as a vCard of the given version."""
    display = contact.display_name or ""
    family, given = (
        (contact.family or "", contact.given or "")
        if contact.family or contact.given
        else _split_name(contact.full_name or "")
    )
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    lines.append(f"FN:{escape(display)}")
    lines.append(f"N:{escape(family)};{escape(given)};;;")
    if contact.org:
        lines.append(f"ORG:{escape(contact.org)}")
    if contact.title:
        lines.append(f"TITLE:{escape(contact.title)}")
    for kind, number in contact.phones:
        if version == "4.0":
            types = f"{kind},voice" if kind != "fax" else "fax"
            dialable = number.startswith("+") and number[1:].isdigit()
            value = f"tel:{number}" if dialable else escape(number)
            kind_param = ";VALUE=uri" if dialable else ";VALUE=text"
            lines.append(f'TEL{kind_param};TYPE="{types}":{value}')
        else:
            types = f"{kind.upper()},VOICE" if kind != "fax" else "FAX"
            lines.append(f"TEL;TYPE={types}:{escape(number)}")
    for extension in contact.extensions:
        if version == "4.0":
            lines.append(f'TEL;VALUE=text;TYPE="work,voice":{escape(extension)}')
        else:
            lines.append(f"TEL;TYPE=WORK,VOICE:{escape(extension)}")
    for email in contact.emails:
        lines.append(f"EMAIL;TYPE={'work' if version == '4.0' else 'INTERNET'}:{escape(email)}")
    if contact.notes:
        lines.append(f"NOTE:{escape(chr(10).join(contact.notes))}")
    lines.append(f"UID:{contact.uid}")
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)


def vcards(contacts: Iterable[Contact], version: VCardVersion = "3.0") -> bytes:
    """A .vcf file's content: the vCards one after the other, UTF-8, CRLF."""
    return "".join(vcard(c, version) for c in contacts).encode("utf-8")
