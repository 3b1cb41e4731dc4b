"""The connector contract: one test class that every kind's tests subclass.

A kind's tests point the contract at a real source of that kind (a database, a
directory, files) and the contract checks what every connector promises, whatever
its kind:

* secrets never leave: a secret field's value is withheld, and no known secret text
  appears in any field of any record;
* the identifier types are known ones (the one list in :mod:`discover.identifiers`)
  and taken from the mapping, never empty;
* ``check`` on a source that cannot be read raises a SourceError naming the source;
* SQL/LDAP/glob metacharacters in a searched value never widen a search: what is
  found holds the value itself (or is reached through a relation of such a record);
* ``close`` may be called any number of times;
* the rows (entries, files) read are counted.

Subclass it in ``tests/connectors/<kind>/test_<kind>_contract.py`` and provide two fixtures,
``contract_case`` (a :class:`ContractCase`) and ``unreachable`` (a :class:`Reachable`
whose source cannot be read). This module imports pytest: only tests import it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors.base import WITHHELD, Connector, ScanResult, searchable_types
from connectors.registry import connector_class, load_mappings
from discover.errors import SourceError
from discover.identifiers import IDENTIFIER_TYPES, Identifier, try_normalise
from discover.register import default_register
from discover.sources import load_sources

#: Values full of SQL, LDAP-filter, LIKE and glob metacharacters, per identifier type.
#: Only those that are valid identifiers of their type are searched.
HOSTILE_VALUES: dict[str, tuple[str, ...]] = {
    "email": ("*@example.org", "%@example.org", "_@example.org", "a'or'1'='1@example.org"),
    "name": ("*", "%", "_", "' OR '1'='1", ")(cn=*", "\\2a"),
    "username": ("*", "%", "_", "x' OR 'x'='x", "*)(uid=*", "a\\*"),
    "account": ("*", "%", "_", "1' OR '1'='1", "*)(objectClass=*"),
    "postcode": ("1234 AB' OR '1'='1",),
    "extension": ("*", "%", "acme/*"),
}


@dataclass(frozen=True, slots=True)
class Reachable:
    """A sources file and the name of one of its sources."""

    sources: Path
    name: str


@dataclass(frozen=True, slots=True)
class ContractCase:
    """A source holding a known subject, for the contract tests.

    ``subject`` are identifiers the source holds (at least one record matches);
    ``secrets`` are texts stored in the source that must never reach a record.
    """

    source: Reachable
    subject: Sequence[Identifier]
    secrets: Sequence[str] = field(default_factory=tuple)


def open_connector(target: Reachable) -> Connector:
    """The connector for one source, built as a search builds it (registry, mapping)."""
    config = load_sources(target.sources)
    register = default_register()
    (source,) = [s for s in config.sources if s.name == target.name]
    mapping = load_mappings(config, register)[source.name]
    cls = connector_class(source.kind)
    return cls(source, mapping.model, register, config.settings)


def _hostile(types: frozenset[str]) -> list[Identifier]:
    found: set[Identifier] = set()
    for kind, values in HOSTILE_VALUES.items():
        if kind not in types:
            continue
        for value in values:
            normalised = try_normalise(kind, value)
            if normalised is not None:
                found.add(Identifier(kind, normalised))
    return sorted(found)


class ConnectorContract:
    """What every connector promises; subclassed once per kind (and per server)."""

    @pytest.fixture
    def connector(self, contract_case: ContractCase) -> Iterator[Connector]:
        built = open_connector(contract_case.source)
        try:
            yield built
        finally:
            built.close()

    @pytest.fixture
    def found(self, connector: Connector, contract_case: ContractCase) -> ScanResult:
        connector.check()
        return connector.scan(list(contract_case.subject))

    def test_finds_the_subject(self, found: ScanResult, contract_case: ContractCase) -> None:
        matched = {m.identifier for r in found.records for m in r.matches}
        assert matched, "the contract's subject must be held by the source"
        assert matched <= set(contract_case.subject)

    def test_rows_read_are_counted(self, found: ScanResult) -> None:
        direct = [r for r in found.records if r.matches]
        assert found.rows_read >= 1
        assert direct

    def test_secrets_never_leave(self, found: ScanResult, contract_case: ContractCase) -> None:
        for record in found.records:
            for item in record.fields:
                if item.spec.secret:
                    assert item.value is None or item.value is WITHHELD, (record.ref, item.name)
                    continue
                text = str(item.value)
                for secret in contract_case.secrets:
                    assert secret not in text, (record.ref, item.name)

    def test_identifier_types_are_known_and_from_the_mapping(self, connector: Connector) -> None:
        types = connector.identifier_types()
        assert types, "a connector that declares no identifier type is never searched"
        assert types <= set(IDENTIFIER_TYPES)
        assert types == searchable_types(connector.mapping)

    def test_check_names_the_source(self, unreachable: Reachable) -> None:
        try:
            built = open_connector(unreachable)
        except SourceError as exc:  # refused while being built: just as good
            error = exc
        else:
            try:
                with pytest.raises(SourceError) as caught:
                    built.check()
                error = caught.value
            finally:
                built.close()
        assert error.source == unreachable.name
        assert unreachable.name in str(error)

    def test_metacharacters_never_widen(self, connector: Connector) -> None:
        hostile = _hostile(connector.identifier_types())
        if not hostile:
            pytest.skip("this source is searched by no type that takes metacharacters")
        connector.check()
        result = connector.scan(hostile)
        for record in result.records:
            # Reached through a relation of a matching record, or matching exactly:
            # a value that only looked like a pattern must not have matched others.
            assert record.matches or record.links, record.ref
            for match in record.matches:
                assert match.identifier in hostile
                stored = record.value(match.field)
                values = stored if isinstance(stored, list | tuple) else [stored]
                normalised = {try_normalise(match.identifier.type, str(v)) for v in values}
                assert match.identifier.value in normalised, (record.ref, match.field)

    def test_close_is_idempotent(self, connector: Connector, contract_case: ContractCase) -> None:
        connector.close()  # before any use
        connector.check()
        connector.scan(list(contract_case.subject))
        connector.close()
        connector.close()
