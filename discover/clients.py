"""Client organisations: whom a package names as the controller of data held for one.

The provider processes some data as the processor of its business clients; for that
data the client organisation is the controller (Art. 28 GDPR), and a package must
tell the subject which organisation to address. A source of one client says so in
the sources file (``client:``). A source of many clients (the CRM, the provisioning
directory, the mobile inventory) names each record's client in the record itself: a
field its mapping marks ``client: true`` (an organisation's name or number, an
inventory's customer column) or its place (the provisioning directory's client
folder). Such a value is looked up among the sources file's ``clients:`` by name or
by one of the client's ``identifiers``, exactly after folding case and surrounding
space. Never fuzzily: a wrong controller misdirects the subject and discloses the
record to another organisation, where a generic one only leaves them to ask.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from discover.errors import ConfigError

#: the contact details a client entry may carry, in the order packages give them
CONTACT_KEYS: tuple[str, ...] = ("address", "privacy_contact", "phone")


def client_key(value: object) -> str | None:
    """A value as client names and identifiers are compared: NFC, surrounding space
    removed, case folded; None when nothing is left."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip().casefold()
    return text or None


@dataclass(frozen=True, slots=True)
class Attribution:
    """A record's client, or why it has none."""

    #: the client's name as the sources file spells it; None: not determined
    client: str | None
    #: values the record gave that name no client of the sources file
    unknown: tuple[str, ...] = ()
    #: the record's values name two different clients
    conflicting: bool = False


@dataclass(frozen=True, slots=True)
class ClientDirectory:
    """The sources file's clients: their contact details, found by name or identifier."""

    #: client name -> contact details (address, privacy_contact, phone)
    contacts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: folded name or identifier -> client name, in every source
    keys: Mapping[str, str] = field(default_factory=dict)
    #: (source, folded identifier) -> client name, in that source only
    source_keys: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.contacts)

    def find(self, value: object, source: str) -> str | None:
        """The client ``value`` names in ``source``, or None."""
        key = client_key(value)
        if key is None:
            return None
        return self.source_keys.get((source, key)) or self.keys.get(key)

    def attribute(self, source: str, values: Iterable[object]) -> Attribution:
        """The client the values a record gives name (its client fields, its place).

        Empty values are ignored; none left: no client. Every value must name a known
        client, and the same one: a value naming none, or two values naming two,
        leave the record without a client rather than picking one.
        """
        found: set[str] = set()
        unknown: list[str] = []
        for value in values:
            if client_key(value) is None:
                continue
            name = self.find(value, source)
            if name is None:
                unknown.append(str(value).strip())
            else:
                found.add(name)
        if unknown:
            return Attribution(None, tuple(dict.fromkeys(unknown)))
        if len(found) > 1:
            return Attribution(None, conflicting=True)
        return Attribution(found.pop() if found else None)

    def document(self, name: str) -> dict[str, str]:
        """The client as packages name it: its name and contact details."""
        return {"name": name, **dict(self.contacts.get(name, {}))}


def read_clients(raw: Mapping[str, Any] | None, *, file: str) -> ClientDirectory:
    """The ``clients:`` block of a sources file (schema-valid) as a directory.

    A name or identifier that would name two clients is refused: a record's
    controller would depend on which entry is read first. An identifier limited to a
    source the file does not list is kept (a clients block may be shared by several
    sources files) and names nothing there.
    """
    contacts: dict[str, dict[str, str]] = {}
    keys: dict[str, tuple[str, str]] = {}  # key -> (client, where)
    source_keys: dict[tuple[str, str], tuple[str, str]] = {}
    for name, entry in (raw or {}).items():
        entry = entry or {}
        where = f"clients.{name}"
        contacts[name] = {k: str(entry[k]) for k in CONTACT_KEYS if k in entry}
        name_key = client_key(name)
        if name_key is None:
            raise ConfigError(file, where, "a client needs a name")
        _claim(keys, name_key, name, where, file=file)
        for index, item in enumerate(entry.get("identifiers") or ()):
            place = f"{where}.identifiers[{index}]"
            source = item.get("source") if isinstance(item, Mapping) else None
            value = item.get("value") if isinstance(item, Mapping) else item
            key = client_key(value)
            if key is None:
                raise ConfigError(file, place, "an empty identifier names no client")
            if source is None:
                _claim(keys, key, name, place, file=file)
            else:
                _claim(source_keys, (str(source), key), name, place, file=file)
    for (source, key), (name, place) in source_keys.items():
        other = keys.get(key)
        if other is not None and other[0] != name:
            raise ConfigError(
                file,
                place,
                f"{key!r} in source {source!r} would name both {name!r} and {other[0]!r} "
                f"({other[1]}); give each client its own identifiers",
            )
    return ClientDirectory(
        contacts=contacts,
        keys={key: name for key, (name, _place) in keys.items()},
        source_keys={key: name for key, (name, _place) in source_keys.items()},
    )


def _claim(
    taken: dict[Any, tuple[str, str]], key: Any, name: str, place: str, *, file: str
) -> None:
    other = taken.get(key)
    if other is not None and other[0] != name:
        shown = key[1] if isinstance(key, tuple) else key
        raise ConfigError(
            file,
            place,
            f"{shown!r} would name both {name!r} and {other[0]!r} ({other[1]}); "
            "give each client its own names and identifiers",
        )
    taken.setdefault(key, (name, place))
