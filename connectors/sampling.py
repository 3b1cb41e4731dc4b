"""Samples of what a source holds, for discovery: every place and a few of its values.

Each kind draws its samples in its own ``sample`` module (``connectors/<kind>/sample.py``):
every table and column, directory attribute, spreadsheet header or provisioning key,
with up to N values each, and whether the source's mapping maps that place (and as
which identifier type). :mod:`discover.discovery` judges the values; nothing here
decides what is personal data. A place the mapping marks secret is listed without its
values: they are never read into a sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Protocol

from discover.sources import SourceConfig

#: kind -> the module whose ``sample`` function samples a source of that kind
SAMPLERS: dict[str, str] = {
    "sql": "connectors.sql.sample",
    "tabular": "connectors.tabular.sample",
    "voip": "connectors.voip.sample",
    "ldap": "connectors.directory.sample",
    "ldif": "connectors.directory.sample",
}


@dataclass(slots=True)
class SampledField:
    """One place of a source (a column, attribute, header, key) and sampled values.

    ``mapped`` is the mapping's field for this place (None when the mapping leaves it
    out); ``declared`` the identifier type the mapping gives it, if any.
    """

    location: str
    field: str
    values: list[str] = field(default_factory=list)
    mapped: str | None = None
    declared: str | None = None
    secret: bool = False
    #: False where the kind rewrites stored values before it normalises them (a SIP
    #: URI's user part, an Exchange proxy address): then the values are not checked
    #: against the declared type as they are
    verbatim: bool = True
    #: what the source says of the place's structure, for scaffolding a mapping: part of
    #: the primary key, the ``table.column`` it references, a date/time type
    key: bool = False
    references: str | None = None
    temporal: bool = False


class Sampler(Protocol):
    def __call__(self, source: SourceConfig, model: Any, rows: int) -> list[SampledField]: ...


def sampler(kind: str) -> Sampler:
    """The ``sample`` function of a kind (KeyError naming the kinds otherwise)."""
    try:
        module = SAMPLERS[kind]
    except KeyError:
        raise KeyError(
            f"{kind!r} cannot be sampled (one of {', '.join(sorted(SAMPLERS))})"
        ) from None
    return import_module(module).sample


#: place names that hold credentials, whatever the mapping says: never sampled
SECRET_NAME = re.compile(
    r"pass(?:word|wd|phrase)|pwd|secret|token|api_?key|(?<![a-z])(?:pin|puk)(?![a-z])|codeword",
    re.IGNORECASE,
)
#: ``scheme://user:password@host``: the credentials of a URL
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


def safe_values(name: str, values: list[str]) -> list[str]:
    """``values`` fit for a sample: none for a credential's name, URLs without user:password."""
    if SECRET_NAME.search(name):
        return []
    return [_URL_CREDENTIALS.sub("", value) for value in values]


def finish(places: list[SampledField]) -> list[SampledField]:
    """The samples as they leave a sampler: no credential in any of them.

    A place whose name says it holds a credential is treated as a secret (no values),
    and URLs lose their ``user:password@``; every sampler ends with this.
    """
    for place in places:
        if place.secret or SECRET_NAME.search(place.field):
            place.secret, place.values = True, []
        else:
            place.values = safe_values(place.field, place.values)
    return places


def text_of(value: object) -> str | None:
    """A sampled value as text; None for empty and binary values."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    text = str(value).strip()
    return text or None
