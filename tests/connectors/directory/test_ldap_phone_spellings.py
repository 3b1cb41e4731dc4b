"""A phone number is found on a real slapd in every spelling a directory may hold.

The filter asks for the last digits of the number, one substring component per
digit, so that separators and groupings do not matter — on OpenLDAP's
telephoneNumber (which ignores spaces and dashes) and on an Active Directory string
attribute (case-insensitive, spaces significant: the stand-in schema's otherMobile).
Every candidate is verified after normalisation: near misses never match.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ldap_support import ACTIVE_DIRECTORY, SUFFIX, by_dn, ident, ldap_connector, server_missing
from support.slapd import Slapd, missing

from connectors.directory.filter import phone_substring, phone_suffix

SPELLINGS = [
    "(06) 53760481",
    "+31 (0)6-5376 0481",
    "06/53760481",
    "0031653760481",
    "+31653760481",
    "06 53 76 04 81",
    "06-53760481",
    "+31 6 5376 0481",
]
#: one digit apart, transposed, or the digits in order inside a longer number
NEAR_MISSES = ["06 53760482", "06-53760418", "+31 6 5376 0481 9", "020 653 760 481"]


def _ldif() -> str:
    blocks = [
        "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\n"
        "o: Example\ndc: example\n",
        "dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n",
        "dn: OU=acme,DC=example,DC=org\nobjectClass: organizationalUnit\nou: acme\n",
    ]
    for number, value in enumerate(SPELLINGS + NEAR_MISSES):
        blocks.append(
            f"dn: uid=p{number},ou=people,dc=example,dc=org\n"
            "objectClass: inetOrgPerson\n"
            f"uid: p{number}\ncn: Person {number}\nsn: {number}\nmobile: {value}\n"
        )
        blocks.append(
            f"dn: CN=User {number},OU=acme,DC=example,DC=org\n"
            "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
            f"objectClass: user\ncn: User {number}\nsn: {number}\notherMobile: {value}\n"
        )
    return "\n".join(blocks)


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    reason = missing()
    if reason:
        server_missing("slapd", reason)
    root = tmp_path_factory.mktemp("spellings")
    ldif = root / "spellings.ldif"
    ldif.write_text(_ldif(), encoding="utf-8")
    server = Slapd(root / "slapd", suffix=SUFFIX, ad_schema=True)
    server.slapadd(ldif)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _found(result) -> set[str]:
    return {dn for dn, record in by_dn(result).items() if record.matches}


def test_the_filter_asks_for_the_suffix_digits_in_order() -> None:
    number = ident("phone", "06-53760481")
    assert phone_suffix(number) == "53760481"
    assert phone_substring("mobile", number) == "(mobile=*5*3*7*6*0*4*8*1*)"


@pytest.mark.parametrize("given", ["06-53760481", "+31 6 53760481", "0031653760481"])
def test_every_spelling_on_openldap_and_none_of_the_near_misses(
    directory: Slapd, given: str
) -> None:
    with ldap_connector(directory) as connector:
        result = connector.scan([ident("phone", given)])
    expected = {f"uid=p{n},ou=people,dc=example,dc=org" for n in range(len(SPELLINGS))}
    assert _found(result) == expected


def test_every_spelling_on_an_active_directory_string_attribute(directory: Slapd) -> None:
    with ldap_connector(
        directory, mapping=ACTIVE_DIRECTORY, base_dn="OU=acme,DC=example,DC=org"
    ) as c:
        result = c.scan([ident("phone", "+31653760481")])
    found = {dn.lower() for dn in _found(result)}
    assert found == {f"cn=user {n},ou=acme,dc=example,dc=org" for n in range(len(SPELLINGS))}
    assert all(
        [m.field for m in record.matches] == ["otherMobile"]
        for record in by_dn(result).values()
        if record.matches
    )
