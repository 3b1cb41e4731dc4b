"""The one small contract every connector fulfils.

A connector is built from a source's configuration and its parsed mapping. It can
``check`` that the source answers, ``check_mapping`` that every mapped place exists,
and ``scan`` for a set of normalised identifiers, returning the matched records.
The engine does the rest (classifying matches, identity expansion, provenance,
turning records into hits), so a connector author writes the source-specific part
only: how to push the search down to the source and how to read its records.

Records carry their field values with the mapping's FieldSpec; a connector never
puts a secret's value in a record (it reports the field as present or absent).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

from discover.errors import SourceError
from discover.identifiers import Identifier, try_normalise
from discover.mapping import FieldSpec
from discover.register import Register
from discover.sources import Settings, SourceConfig

#: Stands in for a secret's value: the field exists and holds something.
WITHHELD = object()


@lru_cache(maxsize=65536)
def _normalised(kind: str, text: str) -> str | None:
    return try_normalise(kind, text)


def normalised_text(kind: str, value: object) -> str | None:
    """:func:`~discover.identifiers.try_normalise` of a stored value, remembered.

    The same values recur in every round and every search (a connector verifying its
    candidates, the engine expanding them), and a phone number costs phonenumbers
    about a millisecond to parse.
    """
    if value is None or value is WITHHELD:
        return None
    return _normalised(kind, value if isinstance(value, str) else str(value))


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One field of a record: its spec and its value (None for empty)."""

    spec: FieldSpec
    value: Any

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Match:
    """An identifier found in a field of a record.

    ``exact`` is True when the stored text equals the canonical value as it is,
    False when they only agree after normalisation.
    """

    identifier: Identifier
    field: str
    exact: bool


@dataclass(frozen=True, slots=True)
class Link:
    """How a related record was reached from another record of the same source."""

    location: str
    key: str
    relation: str


@dataclass(slots=True)
class Record:
    """A record a connector found: directly by identifier, or through a relation."""

    location: str
    key: str
    fields: list[FieldValue]
    matches: list[Match] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    entity: str = "person"
    third_party: bool = False
    recorded_at: datetime | None = None
    #: what the record's place says of its client (a provisioning directory's client
    #: folder), matched by the engine against the sources file's clients; None: nothing
    client: str | None = None

    @property
    def ref(self) -> tuple[str, str]:
        return (self.location, self.key)

    def value(self, field_name: str) -> Any:
        """The value of one field (None when the record has no such field)."""
        for item in self.fields:
            if item.spec.name == field_name:
                return item.value
        return None


#: identifier type -> normalised value -> the identifier searched for
Wanted = dict[str, dict[str, Identifier]]


def wanted_index(identifiers: Iterable[Identifier]) -> Wanted:
    """The searched identifiers by type and normalised value, for verifying candidates."""
    wanted: Wanted = defaultdict(dict)
    for identifier in identifiers:
        wanted[identifier.type][identifier.value] = identifier
    return wanted


def verify_fields(record: Record, wanted: Wanted) -> None:
    """Add a Match for each searchable field whose value normalises to a wanted one.

    A source's own search (SQL WHERE, LDAP filter, a polars expression) may be wider
    than the subject's identifiers; only what holds after normalisation is a match.
    """
    for value in record.fields:
        spec = value.spec
        if not spec.searchable or value.value is None or spec.identifier not in wanted:
            continue
        normalised = normalised_text(spec.identifier, value.value)
        identifier = wanted[spec.identifier].get(normalised) if normalised else None
        if identifier is not None:
            exact = str(value.value) == identifier.value
            record.matches.append(Match(identifier, spec.name, exact))


def mapping_fields(model: object) -> Iterator[FieldSpec]:
    """Every FieldSpec in a kind's mapping model (dataclasses, dicts, lists, tuples)."""
    stack: list[object] = [model]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, FieldSpec):
            yield item
        elif is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in fields(item))
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)


def searchable_types(model: object) -> frozenset[str]:
    """The identifier types of a mapping model's searchable fields."""
    return frozenset(str(spec.identifier) for spec in mapping_fields(model) if spec.searchable)


@dataclass(slots=True)
class ScanResult:
    """What one scan returned, with any warnings the source raised."""

    records: list[Record] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    rows_read: int = 0


class Connector(ABC):
    """Base class of every connector kind."""

    #: the sources-file kind this class serves, e.g. "sql"
    kind: ClassVar[str]
    #: the JSON Schema file (in mappings/schemas) its mappings validate against
    mapping_schema: ClassVar[str]

    def __init__(
        self, source: SourceConfig, mapping: Any, register: Register, settings: Settings
    ) -> None:
        self.source = source
        self.mapping = mapping
        self.register = register
        self.settings = settings
        if mapping is not None and not searchable_types(mapping):
            raise SourceError(
                source.name,
                "its mapping declares no searchable identifier field (no field with an "
                "'identifier' that is not a secret): the source would never be searched",
            )

    @property
    def name(self) -> str:
        return self.source.name

    @classmethod
    @abstractmethod
    def parse_mapping(cls, document: dict[str, Any], *, register: Register, file: str) -> Any:
        """Build the kind-specific mapping model from a schema-valid document."""

    @abstractmethod
    def check(self) -> None:
        """Raise SourceError when the source cannot be reached or read."""

    def starts_first(self) -> bool:
        """Whether this source's scan starts before the other scans of its round.

        A scan that parses a whole file in memory (a workbook sheet: calamine holds
        every cell, some 150 MB for a 100,000-row inventory) peaks lowest when it
        starts while the least else is held, before the round's other sources build
        their indexes beside it. The order never changes a result.
        """
        return False

    def check_mapping(self) -> list[str]:
        """Problems with the mapping against the live source (missing tables, columns …).

        A kind overrides this to compare its mapping with what the source holds.
        """
        return []

    @abstractmethod
    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        """Find the records holding any of ``identifiers`` (already normalised)."""

    def identifier_types(self) -> frozenset[str]:
        """The identifier types this source can be searched by (others are skipped).

        Taken from the mapping (every searchable field's type), so a kind cannot
        forget to declare them and search nothing.
        """
        return searchable_types(self.mapping)

    def begin_search(self) -> None:  # noqa: B027 - optional hook
        """A search (or a batch) starts; its rounds follow until the next call.

        A file source may keep, for the rounds of one search, what it learnt about its
        files in the first round (their listing, that its index is up to date), so that
        the second round does not list and stamp tens of thousands of files again. This
        call tells it to forget that: the next search sees the files as they are then.
        """

    def start_ahead(self) -> None:  # noqa: B027 - optional hook
        """Start, in the background, the part of the coming search that needs no
        identifier (a provisioning directory's listing), to be taken by its first scan.

        Called by a search that opens its own connectors, right after this one opened
        and before the other sources' modules load, for the kinds in
        :data:`connectors.registry.AHEAD_KINDS`. Only what reads the source may start
        here; a problem is left for the scan to report. :meth:`close` drops what was
        not taken.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called once when the search ends."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
