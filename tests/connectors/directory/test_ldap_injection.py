"""LDAP filter injection: identifiers full of filter syntax never widen a search.

Property tests against the real slapd: identifiers built from ``*``, ``(``, ``)``,
``\\``, ``\\2a``, ``|``, ``&``, ``objectClass=`` … return no entry beyond those
whose stored values normalise to the identifier, and (for the types the server
compares by equality) the server itself returns no more entries than that, so the
escaping — not the verification afterwards — keeps the search narrow. The
directory holds entries whose values are such strings (ou=injection in
ldap_data/people.ldif), so a broken escape would visibly find them.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ldap_support import PEOPLE_LDIF, by_dn, ident, ldap_connector
from support.slapd import Slapd

from connectors.directory.filter import escape, search_filters
from connectors.directory.ldif_reader import read_ldif
from discover.errors import InvalidIdentifier
from discover.identifiers import Identifier, try_normalise

#: identifier type -> attributes of the inetOrgPerson mapping that hold it
ATTRIBUTES = {
    "username": ["uid"],
    "account": ["employeeNumber"],
    "email": ["mail"],
    "name": ["cn", "displayName"],
}
PAYLOADS = ["*)(uid=*", "admin)(|(objectClass=*", "\\2a", "*", "(", ")", "\\", "a\\5c"]
FRAGMENTS = [*PAYLOADS, "uid=", "objectClass=", "|", "&", "!", "=", "~=", " ", "admin", "a", "2a"]


def _stored() -> dict[tuple[str, str], set[str]]:
    """(type, normalised value) -> DNs holding it, read from the fixture LDIF."""
    index: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in read_ldif(PEOPLE_LDIF):
        classes = {v.decode().lower() for v in entry.attributes.get("objectclass", [])}
        if "inetorgperson" not in classes:
            continue
        for kind, attributes in ATTRIBUTES.items():
            for attribute in attributes:
                for value in entry.attributes.get(attribute.lower(), []):
                    normalised = try_normalise(kind, value.decode())
                    if normalised:
                        index[(kind, normalised)].add(entry.dn.lower())
    return index


STORED = _stored()


def _search(slapd: Slapd, identifier: Identifier):
    with ldap_connector(slapd) as connector:
        return connector.scan([identifier])


def _people(result) -> set[str]:
    return {dn for dn, record in by_dn(result).items() if record.matches}


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("username", "*)(uid=*", {"cn=paren,ou=injection,dc=example,dc=org"}),
        ("username", "*", {"cn=star,ou=injection,dc=example,dc=org"}),
        ("account", "*", {"cn=star,ou=injection,dc=example,dc=org"}),
        # \2a is the text backslash-2-a, never an escaped asterisk
        ("account", "\\2a", {"cn=paren,ou=injection,dc=example,dc=org"}),
        ("account", "admin)(|(objectClass=*", {"cn=admin,ou=injection,dc=example,dc=org"}),
        ("name", "admin)(|(objectClass=*", {"cn=admin,ou=injection,dc=example,dc=org"}),
        ("email", "*)(uid=*@injection.example", {"cn=paren,ou=injection,dc=example,dc=org"}),
        ("username", "*)(objectClass=*", set()),
        ("account", "*)(|(uid=*", set()),
    ],
)
def test_payloads_find_only_the_entry_that_holds_them(
    slapd: Slapd, kind: str, raw: str, expected: set[str]
) -> None:
    result = _search(slapd, ident(kind, raw))
    assert _people(result) == expected
    if kind != "name":  # equality only: the server returned nothing else either
        assert result.rows_read == len(expected)


def test_nul_is_refused_at_input() -> None:
    for kind in ATTRIBUTES:
        with pytest.raises(InvalidIdentifier, match="control characters"):
            Identifier.parse(kind, "admin\x00)(uid=*")
    # and the escaping would neutralise it anyway
    assert escape("a\x00*()\\") == "a\\00\\2a\\28\\29\\5c"


def test_filter_values_are_escaped(slapd: Slapd) -> None:
    with ldap_connector(slapd) as connector:
        entry_type = connector.mapping.entries["people"]
        (text,) = search_filters(entry_type, [ident("username", "*)(uid=*")], max_terms=100)
    assert text == "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(sorted(ATTRIBUTES)),
    parts=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6),
)
def test_no_identifier_widens_the_search(slapd: Slapd, kind: str, parts: list[str]) -> None:
    raw = "".join(parts)
    if kind == "email":
        raw += "@injection.example"
    try:
        identifier = Identifier.parse(kind, raw)
    except InvalidIdentifier:
        assume(False)
    expected = STORED.get((kind, identifier.value), set())
    result = _search(slapd, identifier)
    assert _people(result) <= expected
    if kind != "name":
        assert result.rows_read <= len(expected)
