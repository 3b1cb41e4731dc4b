"""The directory connector against a real OpenLDAP slapd (inetOrgPerson mapping).

The server is Debian's slapd, started for the session on a free loopback port with
the entries of ldap_data/people.ldif; tests that stop or freeze a server get one of
their own. ldap3's mock strategy is not used: the server's own matching rules
(telephoneNumberMatch, caseIgnoreMatch, approximate match) decide the candidates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from ldap_support import (
    INETORGPERSON,
    SUFFIX,
    by_dn,
    ident,
    ldap_connector,
    server_missing,
    values,
)
from support.slapd import Slapd, free_port

from connectors.base import WITHHELD
from connectors.directory.filter import search_filters
from discover.engine import search_many
from discover.errors import SourceError
from discover.request import build_request
from discover.sources import SourcesConfig, load_sources

JAN = "uid=jdevries,ou=staff,ou=people,dc=example,dc=org"
ZOE = "uid=zcelik,ou=staff,ou=people,dc=example,dc=org"
PIETER = "uid=pbakker,ou=contractors,ou=people,dc=example,dc=org"
FATIMA = "uid=felamrani,ou=staff,ou=people,dc=example,dc=org"
NAMESAKE = "uid=jan.bakkerij,ou=people,dc=example,dc=org"
OUTSIDE = "uid=outside,ou=elsewhere,dc=example,dc=org"
PEOPLE_EMAILS = {
    JAN: "j.devries@example.org",
    ZOE: "zoe.celik@example.org",
    PIETER: "pieter.bakker@example.org",
    FATIMA: "fatima.elamrani@example.org",
    NAMESAKE: "jan@bakkerij.example",
}


def people(result) -> set[str]:
    return {dn for dn, record in by_dn(result).items() if record.matches}


# -- finding people -----------------------------------------------------------------------


def test_email_finds_the_entry_with_every_mail_value(slapd: Slapd) -> None:
    with ldap_connector(slapd) as connector:
        result = connector.scan([ident("email", "JAN.DEVRIES@example.ORG")])
    assert people(result) == {JAN}
    record = by_dn(result)[JAN]
    # a multi-valued attribute gives one field value (one hit row) per value
    assert values(record, "mail") == ["Jan.DeVries@Example.org", "j.devries@example.org"]
    (match,) = record.matches
    assert (match.field, match.exact) == ("mail", False)
    assert record.location == SUFFIX
    assert record.key != JAN and len(record.key) == 36  # entryUUID: stable across renames
    assert values(record, "dn") == [JAN]
    # the search ran on the server: only the matching entry (and its two groups) came back
    assert result.rows_read == len(result.records) == 3
    assert not result.truncated and not result.warnings


@pytest.mark.parametrize(
    ("raw", "dn", "field"),
    [
        ("+31881234567", ZOE, "telephoneNumber"),  # stored 088-1234567
        ("0612345678", JAN, "mobile"),  # stored 06-12345678
        ("+31687654321", ZOE, "mobile"),  # stored +31 (0)6 87654321
        ("06-1111 2222", JAN, "homePhone"),  # stored 0031 6 1111 2222
        ("+31644455566", FATIMA, "mobile"),  # stored 06 4445 5566
        ("+31 6 11122233", PIETER, "mobile"),  # stored 0611122233
        ("0102345201", JAN, "telephoneNumber"),  # stored +31 10 234 5201
    ],
)
def test_phone_in_any_stored_format(slapd: Slapd, raw: str, dn: str, field: str) -> None:
    with ldap_connector(slapd) as connector:
        result = connector.scan([ident("phone", raw)])
    assert people(result) == {dn}
    assert [m.field for m in by_dn(result)[dn].matches] == [field]


def test_names_with_diacritics_and_family_name_first(slapd: Slapd) -> None:
    with ldap_connector(slapd) as connector:
        zoe = connector.scan([ident("name", "Zoe Celik")])
        jans = connector.scan([ident("name", "jan de vries")])
        fatima = connector.scan([ident("name", "Fatima El Amrani")])
    assert people(zoe) == {ZOE}
    assert values(by_dn(zoe)[ZOE], "cn") == ["Zoë Çelik"]
    assert people(jans) == {JAN, NAMESAKE}
    # cn "El Amrani, Fatima" and displayName "Fatima El Amrani" both match
    assert {m.field for m in by_dn(fatima)[FATIMA].matches} == {"cn", "displayName"}


def test_secret_binary_and_other_people(slapd: Slapd) -> None:
    with ldap_connector(slapd) as connector:
        record = by_dn(connector.scan([ident("email", "j.devries@example.org")]))[JAN]
    assert values(record, "userPassword") == [WITHHELD]
    photo = values(record, "jpegPhoto")
    assert photo == [bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")]
    manager = next(f for f in record.fields if f.spec.name == "manager")
    assert manager.spec.third_party and manager.value == FATIMA


def test_groups_are_reached_through_the_member_relation(slapd: Slapd) -> None:
    with ldap_connector(slapd) as connector:
        result = connector.scan([ident("email", "j.devries@example.org")])
    records = by_dn(result)
    jan = records[JAN]
    planners = records["cn=planners,ou=groups,dc=example,dc=org"]
    all_staff = records["cn=all-staff,ou=groups,dc=example,dc=org"]
    assert not planners.matches and not all_staff.matches
    assert [link.key for link in planners.links] == [jan.key]
    assert [link.relation for link in all_staff.links] == ["groups.uniqueMember -> people"]
    assert planners.entity == "organisation"
    assert "cn=drivers,ou=groups,dc=example,dc=org" not in records
    assert set(records) == {JAN, planners.fields[0].value, all_staff.fields[0].value}


def test_bases_and_scopes(slapd: Slapd, tmp_path: Path) -> None:
    outside = ident("email", "outside@example.org")
    namesake = ident("email", "jan@bakkerij.example")
    jan = ident("email", "j.devries@example.org")
    with ldap_connector(slapd) as connector:
        assert people(connector.scan([outside])) == {OUTSIDE}
    with ldap_connector(slapd, base_dn=f"ou=people,{SUFFIX}") as connector:
        assert people(connector.scan([outside, jan])) == {JAN}
    document = yaml.safe_load(INETORGPERSON.read_text())
    document["bases"] = [{"dn": "ou=people", "scope": "one"}]
    mapping = tmp_path / "one-level.yaml"
    mapping.write_text(yaml.safe_dump(document))
    with ldap_connector(slapd, mapping=mapping) as connector:
        # only the direct children of ou=people: not the people in ou=staff
        assert people(connector.scan([namesake, jan, outside])) == {NAMESAKE}


# -- batch: many identifiers, OR-chunks, paging, limits ------------------------------------


def test_thousands_of_identifiers_are_chunked(slapd: Slapd) -> None:
    noise = [ident("email", f"nobody{n}@nowhere.example") for n in range(3000)]
    wanted = [ident("email", email) for email in PEOPLE_EMAILS.values()]
    with ldap_connector(slapd, filter_terms=200) as connector:
        entry_type = connector.mapping.entries["people"]
        assert len(search_filters(entry_type, noise + wanted, max_terms=200)) > 10
        result = connector.scan(noise + wanted)
    assert people(result) == set(PEOPLE_EMAILS)
    assert result.rows_read == len(PEOPLE_EMAILS) + 3  # + planners, drivers, all-staff
    assert not result.truncated


@pytest.fixture
def limited_slapd(tmp_path: Path):
    """A server that gives a non-root reader at most 2 entries unless it pages."""
    from ldap_support import start_directory

    server = start_directory(
        tmp_path / "limited",
        extra_config=["sizelimit size.soft=2 size.hard=2 size.pr=2 size.prtotal=unlimited"],
    )
    try:
        yield server
    finally:
        server.stop()


READER = {"bind_dn": "cn=reader,dc=example,dc=org", "password": "reader-secret"}


def test_paged_results_get_past_the_server_size_limit(limited_slapd: Slapd) -> None:
    wanted = [ident("email", email) for email in PEOPLE_EMAILS.values()]
    with ldap_connector(limited_slapd, page_size=2, **READER) as connector:
        result = connector.scan(wanted)
    assert people(result) == set(PEOPLE_EMAILS)
    assert not result.truncated and not result.warnings


def test_size_limit_is_reported_never_silent(limited_slapd: Slapd) -> None:
    wanted = [ident("email", email) for email in PEOPLE_EMAILS.values()]
    with ldap_connector(limited_slapd, page_size=0, **READER) as connector:
        result = connector.scan(wanted)
    assert result.truncated
    assert any("size limit" in warning for warning in result.warnings)
    assert len(people(result)) == 2


def test_client_size_limit_is_reported(slapd: Slapd) -> None:
    with ldap_connector(slapd, size_limit=1) as connector:
        result = connector.scan([ident("name", "Jan de Vries")])
    assert result.truncated
    assert any("incomplete" in warning for warning in result.warnings)


def test_a_reader_without_access_sees_no_password(slapd: Slapd) -> None:
    with ldap_connector(slapd, **READER) as connector:
        record = by_dn(connector.scan([ident("email", "j.devries@example.org")]))[JAN]
    assert values(record, "userPassword") == []


# -- failures -----------------------------------------------------------------------------


def _fails(connector, *needles: str) -> SourceError:
    with pytest.raises(SourceError) as caught:
        connector.check()
        connector.scan([ident("email", "j.devries@example.org")])
    error = caught.value
    assert error.source == connector.name
    for needle in needles:
        assert needle in error.message
    return error


def test_server_down(slapd: Slapd) -> None:
    with ldap_connector(slapd, url=f"ldap://127.0.0.1:{free_port()}") as connector:
        error = _fails(connector, "connection refused")
    assert error.transient


def test_bad_credentials(slapd: Slapd) -> None:
    with ldap_connector(slapd, password="wrong") as connector:
        _fails(connector, "bind as cn=admin,dc=example,dc=org", "invalidCredentials")


def test_missing_password_is_not_an_anonymous_bind(slapd: Slapd) -> None:
    with ldap_connector(slapd, password="") as connector:
        _fails(connector, "password is empty")


def test_base_dn_that_does_not_exist(slapd: Slapd) -> None:
    with ldap_connector(slapd, base_dn="ou=nowhere,dc=example,dc=org") as connector:
        _fails(connector, "'ou=nowhere,dc=example,dc=org' does not exist")


def test_bad_url(slapd: Slapd) -> None:
    with ldap_connector(slapd, url="http://127.0.0.1:80") as connector:
        _fails(connector, "connection.url")


def test_timeout_of_a_frozen_server(spare_slapd: Slapd) -> None:
    with ldap_connector(spare_slapd, timeout=1) as connector:
        connector.check()
        spare_slapd.pause()
        try:
            with pytest.raises(SourceError) as caught:
                connector.scan([ident("email", "j.devries@example.org")])
        finally:
            spare_slapd.resume()
    assert "did not answer within 1 s" in caught.value.message
    assert caught.value.transient


def test_a_failed_directory_does_not_stop_the_search(slapd: Slapd, tmp_path: Path) -> None:
    down = ldap_connector(slapd, name="down", url=f"ldap://127.0.0.1:{free_port()}")
    up = ldap_connector(slapd, name="up")
    sources = SourcesConfig(path=tmp_path / "sources.yaml", sources=(), settings=up.settings)
    request = build_request([("email", "j.devries@example.org")], request_id="REQ-LDAP-1")
    (result,) = search_many([request], sources, connectors=[down, up])
    statuses = {status.name: status for status in result.sources}
    assert statuses["down"].failed and "connection refused" in statuses["down"].error
    assert statuses["up"].status == "ok"
    assert not result.complete
    assert JAN in set(result.hits.column("value").to_pylist())


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture
def tls_slapd(tmp_path: Path):
    import shutil

    from ldap_support import start_directory

    if shutil.which("openssl") is None:
        server_missing("openssl", "needed to make the test server's certificate")
    server = start_directory(tmp_path / "tls", tls=True)
    try:
        yield server
    finally:
        server.stop()


def test_ldaps_and_start_tls(tls_slapd: Slapd) -> None:
    jan = [ident("email", "j.devries@example.org")]
    with ldap_connector(tls_slapd, url=tls_slapd.tls_url, ca_file=str(tls_slapd.ca_file)) as c:
        assert people(c.scan(jan)) == {JAN}
    with ldap_connector(tls_slapd, start_tls="true", ca_file=str(tls_slapd.ca_file)) as c:
        assert people(c.scan(jan)) == {JAN}
    # without the CA the certificate is not trusted: refused, never silently accepted
    with ldap_connector(tls_slapd, url=tls_slapd.tls_url) as connector:
        _fails(connector)


# -- mapping checks against the server -----------------------------------------------------


def _broken_mapping(tmp_path: Path) -> Path:
    text = INETORGPERSON.read_text().replace("telephoneNumber:", "telefoneNumber:", 1)
    document = yaml.safe_load(text)
    document["entries"]["people"]["bases"] = [{"dn": "ou=peple", "scope": "subtree"}]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_check_mapping_reports_misspelt_attribute_and_wrong_base(
    slapd: Slapd, tmp_path: Path
) -> None:
    with ldap_connector(slapd) as connector:
        assert connector.check_mapping() == []
    with ldap_connector(slapd, mapping=_broken_mapping(tmp_path)) as connector:
        problems = connector.check_mapping()
    assert len(problems) == 2
    assert "'telefoneNumber' (entries.people.attributes.telefoneNumber)" in problems[0]
    assert "not in the server's schema" in problems[0]
    assert "base 'ou=peple,dc=example,dc=org' (entries.people.bases[0])" in problems[1]


def _sources_file(tmp_path: Path, mapping: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sources": [
                    {
                        "name": "directory",
                        "kind": "ldap",
                        "mapping": mapping,
                        "connection": {
                            "url": "${LDAP_URL}",
                            "base_dn": "${LDAP_BASE_DN}",
                            "bind_dn": "${LDAP_BIND_DN}",
                            "password": "${LDAP_BIND_PASSWORD}",
                        },
                    }
                ],
            }
        )
    )
    return path


def _environment(server: Slapd) -> dict[str, str]:
    return {
        "LDAP_URL": server.url,
        "LDAP_BASE_DN": SUFFIX,
        "LDAP_BIND_DN": server.rootdn,
        "LDAP_BIND_PASSWORD": server.rootpw,
    }


def test_cli_mappings_check_live(slapd: Slapd, tmp_path: Path) -> None:
    from discover.cli import cli

    runner = CliRunner()
    env = _environment(slapd)
    good = _sources_file(tmp_path, "shipped:directory/inetorgperson.yaml")
    done = runner.invoke(cli, ["mappings", "check", "--live", "--sources", str(good)], env=env)
    assert done.exit_code == 0, done.output
    broken = _broken_mapping(tmp_path)
    bad = _sources_file(tmp_path, str(broken))
    done = runner.invoke(cli, ["mappings", "check", "--live", "--sources", str(bad)], env=env)
    assert done.exit_code == 1
    assert "telefoneNumber" in done.output and "ou=peple,dc=example,dc=org" in done.output


def test_shipped_sources_file_takes_the_server_from_the_environment(slapd: Slapd) -> None:
    from discover.config import shipped_path

    sources = load_sources(
        shipped_path("directory", "inetorgperson.sources.yaml"), environ=_environment(slapd)
    )
    request = build_request([("email", "zoe.celik@example.org")], request_id="REQ-LDAP-2")
    (result,) = search_many([request], sources)
    assert [s.status for s in result.sources] == ["ok"]
    hits = result.hits.to_pylist()
    assert {h["record_key"] for h in hits if h["field"] == "dn" and h["value"] == ZOE}
    # Zoë's entry gives her phones, which are searched in turn (identity expansion)
    assert {str(t.identifier) for t in result.traces} >= {"phone:+31881234567"}
    manager = [h for h in hits if h["field"] == "manager"]
    assert manager and all(h["third_party"] for h in manager)
