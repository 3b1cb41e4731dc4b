"""The shipped Active Directory mapping against a real server.

Active Directory cannot run on the test machines, so slapd loads a small stand-in
schema (tests/support/ad-test.schema) that defines the AD attributes the mapping
reads — sAMAccountName, userPrincipalName, proxyAddresses, otherTelephone,
otherMobile, ipPhone, msRTCSIP-Line, employeeID, objectGUID, objectSid — with AD's
matching (case-insensitive, spaces significant), and ldap_data/ad.ldif holds users,
a computer account and a group as AD stores them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ldap_support import ACTIVE_DIRECTORY, AD_BASE, by_dn, ident, ldap_connector, values
from support.slapd import Slapd

JAN = "cn=jan de vries,ou=users,ou=acme,dc=example,dc=org"
ZOE = "cn=zoë çelik,ou=users,ou=acme,dc=example,dc=org"
FATIMA = "cn=fatima el amrani,ou=users,ou=acme,dc=example,dc=org"
PLANNERS = "cn=planners,ou=groups,ou=acme,dc=example,dc=org"


def ad(slapd: Slapd):
    return ldap_connector(slapd, mapping=ACTIVE_DIRECTORY, base_dn=AD_BASE)


def matched(result) -> dict[str, set[str]]:
    return {dn: {m.field for m in r.matches} for dn, r in by_dn(result).items() if r.matches}


@pytest.mark.parametrize(
    ("kind", "raw", "dn", "fields"),
    [
        # only in proxyAddresses, as "smtp:jdv@…": the prefix is stripped
        ("email", "JDV@acme-logistiek.nl", JAN, {"proxyAddresses"}),
        (
            "email",
            "jan.devries@acme-logistiek.nl",
            JAN,
            {"mail", "proxyAddresses", "msRTCSIP-PrimaryUserAddress"},
        ),
        ("email", "jan.devries@acme.local", JAN, {"userPrincipalName"}),
        # tel:+31102345201;ext=201 and "+31 10 234 5201"
        ("phone", "010-234 5201", JAN, {"telephoneNumber", "msRTCSIP-Line"}),
        ("phone", "+31102345299", JAN, {"otherTelephone"}),  # stored 010-234 5299
        ("phone", "+31655550101", JAN, {"otherMobile"}),  # stored 06 5555 0101
        ("phone", "0881234567", ZOE, {"otherTelephone"}),  # stored +31 88 123 4567
        ("phone", "+31102345202", ZOE, {"ipPhone"}),
        ("phone", "+31612345678", JAN, {"mobile"}),  # stored +31 6 12345678
        ("username", "ACME\\jdevries", JAN, {"sAMAccountName"}),
        ("account", "e1002", ZOE, {"employeeID"}),
        ("name", "Zoe Celik", ZOE, {"cn", "displayName"}),
    ],
)
def test_ad_attributes(slapd: Slapd, kind: str, raw: str, dn: str, fields: set[str]) -> None:
    with ad(slapd) as connector:
        result = connector.scan([ident(kind, raw)])
    assert matched(result) == {dn: fields}


def test_computer_accounts_are_left_out(slapd: Slapd) -> None:
    # WS-JAN-01 is objectClass user + computer with Jan's mail, phone and name
    with ad(slapd) as connector:
        result = connector.scan(
            [ident("email", "jan.devries@acme-logistiek.nl"), ident("phone", "+31102345201")]
        )
    assert not any("ws-jan-01" in dn for dn in by_dn(result))


def test_values_as_ad_holds_them(slapd: Slapd) -> None:
    with ad(slapd) as connector:
        result = connector.scan([ident("email", "jan.devries@acme-logistiek.nl")])
    jan = by_dn(result)[JAN]
    assert jan.key == "2f5e6a1c-3b4d-4e8f-9a0b-1c2d3e4f5a6b"  # objectGUID, AD's text form
    assert values(jan, "objectGUID") == ["2f5e6a1c-3b4d-4e8f-9a0b-1c2d3e4f5a6b"]
    assert values(jan, "objectSid") == ["S-1-5-21-1004336348-1177238915-682003330-1105"]
    assert isinstance(values(jan, "thumbnailPhoto")[0], bytes)
    proxies = [f for f in jan.fields if f.spec.name == "proxyAddresses"]
    assert [f.value for f in proxies] == [
        "Jan.DeVries@acme-logistiek.nl",
        "jdv@acme-logistiek.nl",
        "jan.devries@acme-logistiek.nl",
        "X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=jdevries",
    ]
    # the X500 address is shown as stored but is no e-mail: never verified or expanded
    assert [f.spec.identifier for f in proxies] == ["email", "email", "email", None]
    assert values(jan, "msRTCSIP-Line") == ["+31102345201"]
    assert jan.recorded_at == datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    manager = next(f for f in jan.fields if f.spec.name == "manager")
    assert manager.spec.third_party
    planners = by_dn(result)[PLANNERS]
    assert [link.key for link in planners.links] == [jan.key]
    assert planners.key == "9e8d7c6b-5a49-4837-a625-1403f2e1d0c9"


def test_exact_flag_compares_the_stored_text(slapd: Slapd) -> None:
    with ad(slapd) as connector:
        result = connector.scan([ident("phone", "+31102345201")])
    exact = {m.field: m.exact for m in by_dn(result)[JAN].matches}
    assert exact == {"msRTCSIP-Line": True, "telephoneNumber": False}


def test_shipped_ad_mapping_matches_the_stand_in_schema(slapd: Slapd) -> None:
    with ad(slapd) as connector:
        assert connector.check_mapping() == []
