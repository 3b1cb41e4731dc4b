"""Reading directory entries into records: shared by the LDAP server and LDIF connectors.

An entry arrives as its DN and raw attribute values (bytes, as the server or the LDIF
file holds them). This module turns it into a :class:`~connectors.base.Record`:
one field value per attribute value (a multi-valued ``mail`` gives one hit row per
address), binary attributes as bytes (the hits table reports their size and
SHA-256, never the bytes) or, for ``objectGUID`` / ``objectSid``, in their usual
text form, secrets as ``WITHHELD``. Every searchable value is read through its
transform and verified after normalisation: the server's matching rules decide
which entries are candidates, this module decides which ones match.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connectors.base import WITHHELD, FieldValue, Match, Record
from connectors.directory.mapping import LdapAttribute, LdapEntryType
from discover.identifiers import Identifier, try_normalise
from discover.mapping import FieldSpec

Wanted = Mapping[str, Mapping[str, Identifier]]
RawEntry = dict[str, list[bytes]]


def attribute_key(name: str) -> str:
    """The lookup key of an attribute description: lower case, options dropped."""
    return name.split(";", 1)[0].strip().lower()


def raw_entry(attributes: Mapping[str, Iterable[bytes | str]]) -> RawEntry:
    """Attribute values by lower-case name, options (``cn;lang-nl``) merged into the base."""
    entry: RawEntry = {}
    for name, values in attributes.items():
        bucket = entry.setdefault(attribute_key(name), [])
        for value in values:
            bucket.append(value.encode("utf-8") if isinstance(value, str) else bytes(value))
    return entry


def guid_text(data: bytes) -> str:
    """An objectGUID as Active Directory shows it (little-endian fields)."""
    if len(data) != 16:
        return data.hex()
    return str(uuid.UUID(bytes_le=data))


def sid_text(data: bytes) -> str:
    """An objectSid as S-R-A-S1-S2…, the form Windows tools show."""
    if len(data) < 8:
        return data.hex()
    count = data[1]
    if len(data) != 8 + 4 * count:
        return data.hex()
    authority = int.from_bytes(data[2:8], "big")
    subs = [int.from_bytes(data[8 + 4 * i : 12 + 4 * i], "little") for i in range(count)]
    return "S-" + "-".join(str(part) for part in (data[0], authority, *subs))


def _decode(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _strip_scheme(text: str, scheme: str) -> str | None:
    if text[: len(scheme)].lower() != scheme:
        return None
    return text[len(scheme) :]


def apply_transform(transform: str | None, text: str) -> str | None:
    """The identifier text inside a stored value, or None when it holds none.

    proxy_address: ``SMTP:Jan@x.nl`` / ``smtp:`` / ``SIP:`` -> ``Jan@x.nl``; other
    address types (X500:, X400:, EUM:) are not identifiers. tel_uri:
    ``tel:+31102345201;ext=201`` -> ``+31102345201``. sip_uri: ``sip:jan@x.nl`` ->
    ``jan@x.nl`` (a ``sip:+31…@x;user=phone`` yields the number).
    """
    if transform is None:
        return text
    stripped = text.strip()
    if transform == "proxy_address":
        prefix, sep, rest = stripped.partition(":")
        if sep and prefix.lower() in ("smtp", "sip") and rest:
            return rest
        return None
    if transform == "tel_uri":
        rest = _strip_scheme(stripped, "tel:")
        return (rest if rest is not None else stripped).split(";", 1)[0] or None
    if transform == "sip_uri":
        rest = _strip_scheme(stripped, "sip:") or _strip_scheme(stripped, "sips:")
        if rest is None:
            return None
        address = rest.split(";", 1)[0]
        local, _, _domain = address.partition("@")
        if local.startswith("+") and local[1:].replace("-", "").isdigit():
            return local
        return address or None
    raise ValueError(f"unknown transform {transform!r}")


def read_value(attribute: LdapAttribute, data: bytes) -> tuple[Any, str | None]:
    """(value for the record, text to verify as the attribute's identifier or None)."""
    if attribute.binary == "octets":
        return data, None
    if attribute.binary == "guid":
        return guid_text(data), None
    if attribute.binary == "sid":
        return sid_text(data), None
    value = _decode(data)
    if isinstance(value, bytes):  # not text after all: report it as bytes
        return value, None
    if attribute.transform is None:
        return value, value if attribute.spec.identifier else None
    inner = apply_transform(attribute.transform, value)
    return (inner if inner is not None else value), inner


def _key_field(entry_type: LdapEntryType, entry: RawEntry) -> list[FieldValue]:
    """The key attribute (entryUUID, objectGUID) as a field when the mapping does not map it:
    a record keeps both its DN and its key, whichever identifies it where it is read."""
    key = entry_type.key
    if not key or key.lower() in entry_type.attributes or not entry.get(key.lower()):
        return []
    # an object id the directory assigns (like objectGUID): system, never the subject's own
    label = {"nl": f"Object-ID ({key})", "en": f"Object id ({key})"}
    spec = FieldSpec(name=key, category=entry_type.category, origin="system", label=label)
    return [FieldValue(spec, record_key(entry_type, "", entry))]


def record_key(entry_type: LdapEntryType, dn: str, entry: RawEntry) -> str:
    """The entry's key attribute (entryUUID, objectGUID as text) or else its DN."""
    if entry_type.key:
        values = entry.get(entry_type.key.lower())
        if values:
            attribute = entry_type.attributes.get(entry_type.key.lower())
            if attribute is not None and attribute.binary == "guid":
                return guid_text(values[0])
            decoded = _decode(values[0])
            return decoded if isinstance(decoded, str) else values[0].hex()
    return dn


_GENERALIZED_TIME = re.compile(
    r"(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(?:[.,]\d+)?(Z|[+-]\d{2}(?:\d{2})?)?$"
)


def generalized_time(text: str) -> datetime | None:
    """An LDAP GeneralizedTime (``20240115093000.0Z``) or ISO date; None when neither."""
    match = _GENERALIZED_TIME.match(text.strip())
    if match is None:
        try:
            return datetime.fromisoformat(text.strip())
        except ValueError:
            return None
    year, month, day, hour, minute, second, zone = match.groups()
    tz = UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5] or 0))
        tz = timezone(sign * offset)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


def object_classes(entry: RawEntry) -> set[str]:
    return {
        value.decode("utf-8", "replace").strip().lower() for value in entry.get("objectclass", [])
    }


def build_record(
    entry_type: LdapEntryType, dn: str, entry: RawEntry, location: str, wanted: Wanted
) -> Record:
    """The record of one entry, with every match that holds after normalisation."""
    fields = [FieldValue(entry_type.dn_spec, dn)]
    matches: list[Match] = []
    recorded_at: datetime | None = None
    for attribute in entry_type.attributes.values():
        values = entry.get(attribute.lower)
        if not values:
            continue
        spec = attribute.spec
        if spec.secret:
            fields.append(FieldValue(spec, WITHHELD))
            continue
        searched = wanted.get(spec.identifier) if spec.searchable and spec.identifier else None
        plain_spec = None
        for data in values:
            value, text = read_value(attribute, data)
            if spec.identifier and text is None:
                # a value the transform cannot read (an X500: proxy address): shown as
                # stored, never verified or expanded as an identifier
                plain_spec = plain_spec or replace(spec, identifier=None)
                fields.append(FieldValue(plain_spec, value))
                continue
            fields.append(FieldValue(spec, value))
            if spec.recorded_at and recorded_at is None and isinstance(value, str):
                recorded_at = generalized_time(value)
            if searched is None or text is None:
                continue
            normalised = try_normalise(spec.identifier, text)
            identifier = searched.get(normalised) if normalised else None
            if identifier is not None:
                match = Match(identifier, spec.name, text == identifier.value)
                if match not in matches:
                    matches.append(match)
    fields.extend(_key_field(entry_type, entry))
    return Record(
        location=location,
        key=record_key(entry_type, dn, entry),
        fields=fields,
        matches=matches,
        entity=entry_type.entity,
        recorded_at=recorded_at,
    )


def dn_key(dn: str) -> tuple[str, ...]:
    """A DN in a comparable form: its RDNs, most specific first, trimmed, lower case.

    RDNs are split on unescaped ',' (and ';'), values of a multi-valued RDN on '+'
    and sorted; escapes (``\\,`` and ``\\2C``) are decoded, so two spellings of one
    DN agree. Enough to compare DNs of one directory.
    """
    rdns: list[list[str]] = [[]]
    current = bytearray()
    index = 0
    raw = dn.encode("utf-8")

    def flush(new_rdn: bool) -> None:
        text = current.decode("utf-8", "replace")
        name, _, value = text.partition("=")
        if name.strip() or value.strip():
            rdns[-1].append(f"{name.strip().lower()}={value.strip().lower()}")
        current.clear()
        if new_rdn:
            rdns.append([])

    while index < len(raw):
        char = raw[index : index + 1]
        if char == b"\\" and index + 1 < len(raw):
            pair = raw[index + 1 : index + 3]
            if len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair):
                current.append(int(pair, 16))
                index += 3
            else:
                current += raw[index + 1 : index + 2]
                index += 2
            continue
        if char in (b",", b";"):
            flush(True)
        elif char == b"+":
            flush(False)
        else:
            current += char
        index += 1
    flush(False)
    return tuple("+".join(sorted(rdn)) for rdn in rdns if rdn)


def in_scope(dn: tuple[str, ...], base: tuple[str, ...], scope: str) -> bool:
    """Whether ``dn`` is within ``base`` for the scope (both as :func:`dn_key`)."""
    if not base:
        return True
    depth = len(dn) - len(base)
    if depth < 0 or dn[depth:] != base:
        return False
    if scope == "base":
        return depth == 0
    if scope == "one":
        return depth == 1
    return True
