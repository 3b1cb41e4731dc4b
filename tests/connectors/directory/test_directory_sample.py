"""Sampling a directory for discovery: LDIF and a live slapd give the same places."""

from __future__ import annotations

from pathlib import Path

import pytest
from ldap_support import PEOPLE_LDIF, SUFFIX
from support.slapd import Slapd

from connectors.directory.mapping import DirectoryConnector
from connectors.sampling import SampledField, sampler
from discover.errors import SourceError
from discover.register import default_register
from discover.sources import SourceConfig

#: a directory mapping that maps mail only: the phones it leaves out are unmapped
NARROW = {
    "version": 1,
    "kind": "ldap",
    "entries": {
        "people": {
            "object_classes": ["inetOrgPerson"],
            "key": "uid",
            "category": "general.contact",
            "attributes": {"mail": {"identifier": "email"}, "userPassword": {"secret": True}},
        }
    },
}


def _model():
    return DirectoryConnector.parse_mapping(NARROW, register=default_register(), file="dir.yaml")


def _places(found: list[SampledField]) -> dict[tuple[str, str], SampledField]:
    return {(p.location, p.field): p for p in found}


def _check(places: dict[tuple[str, str], SampledField]) -> None:
    assert places[("people", "mail")].mapped == "mail"
    assert places[("people", "mail")].declared == "email"
    assert places[("people", "telephonenumber")].mapped is None
    assert "+31 10 234 5201" in places[("people", "telephonenumber")].values
    assert places[("people", "userpassword")].values == []  # secret: never sampled
    assert places[("people", "dn")].values  # the DN is a place too


def test_ldif(tmp_path: Path) -> None:
    source = SourceConfig("export", "ldif", Path("dir.yaml"), {"path": str(PEOPLE_LDIF)})
    _check(_places(sampler("ldif")(source, _model(), 50)))


@pytest.mark.slapd
def test_live_ldap(slapd: Slapd, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {
        "url": slapd.url,
        "base_dn": SUFFIX,
        "bind_dn": slapd.rootdn,
        "password": slapd.rootpw,
        "timeout": 5,
    }
    source = SourceConfig("directory", "ldap", Path("dir.yaml"), connection)
    live = _places(sampler("ldap")(source, _model(), 50))
    _check(live)
    exported = _places(
        sampler("ldif")(
            SourceConfig("export", "ldif", Path("dir.yaml"), {"path": str(PEOPLE_LDIF)}),
            _model(),
            50,
        )
    )
    assert {k for k, p in live.items() if p.mapped} == {k for k, p in exported.items() if p.mapped}


def test_a_missing_export_names_the_source(tmp_path: Path) -> None:
    source = SourceConfig("export", "ldif", Path("dir.yaml"), {"path": str(tmp_path / "no.ldif")})
    with pytest.raises(SourceError) as caught:
        sampler("ldif")(source, _model(), 5)
    assert caught.value.source == "export"


@pytest.mark.slapd
def test_a_live_directory_scaffolds_a_mapping_that_finds_the_entry(
    slapd: Slapd, tmp_path: Path
) -> None:
    from connectors import load_mapping
    from connectors.directory.ldap import LdapConnector
    from discover.discovery.scaffold import scaffold
    from discover.identifiers import Identifier
    from discover.sources import Settings

    connection = {
        "url": slapd.url,
        "base_dn": SUFFIX,
        "bind_dn": slapd.rootdn,
        "password": slapd.rootpw,
        "timeout": 5,
    }
    out = tmp_path / "directory.yaml"
    out.write_text(scaffold("ldap", SourceConfig("directory", "ldap", out, connection)), "utf-8")
    loaded = load_mapping(out, default_register(), expected_kind="ldap")
    source = SourceConfig("directory", "ldap", out, connection)
    with LdapConnector(source, loaded.model, default_register(), Settings()) as live:
        assert live.check_mapping() == []
        result = live.scan([Identifier.parse("email", "j.devries@example.org")])
    assert any(r.matches for r in result.records)
