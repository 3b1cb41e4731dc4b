"""LDIF exports as a source: the reader (RFC 2849) and the ldif connector.

The connector is checked against the real server: the test directory exported by
Debian's ``slapcat`` gives the same entries, with the same record keys (entryUUID),
as a search on the running slapd.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from ldap_support import (
    ACTIVE_DIRECTORY,
    AD_LDIF,
    PEOPLE_LDIF,
    SUFFIX,
    by_dn,
    ident,
    ldap_connector,
    ldif_connector,
    values,
)
from support.slapd import Slapd

from connectors.base import WITHHELD
from connectors.directory.ldif_reader import (
    FileUrls,
    LdifError,
    LdifStats,
    read_entry_at,
    read_ldif,
)
from discover.errors import SourceError

# -- the reader -----------------------------------------------------------------------------

FOLDED = (
    "version: 1\n"
    "# a comment that is\n"
    "  folded over two lines\n"
    "\n"
    "dn: uid=zoe,ou=people,\n"
    " dc=example,dc=org\n"
    "objectClass: inetOrgPerson\n"
    "cn:: " + base64.b64encode("Zoë Çelik".encode()).decode() + "\n"
    "cn;lang-nl: Zoë\n"
    "description: a long value that was\n"
    "  folded with its space kept\n"
    "mail:   padded@example.org\n"
    "\n"
    "\n"
    "dn: uid=change,dc=example,dc=org\n"
    "changetype: modify\n"
    "replace: mail\n"
    "mail: x@example.org\n"
    "-\n"
    "\n"
    "dn: uid=added,dc=example,dc=org\n"
    "changetype: add\n"
    "mail: added@example.org\n"
)


@pytest.mark.parametrize(
    ("encoding", "newline", "bom"),
    [("utf-8", "\n", b""), ("utf-8", "\r\n", b""), ("utf-8", "\n", b"\xef\xbb\xbf")],
)
def test_reader_handles_folding_comments_base64_and_changes(
    tmp_path: Path, encoding: str, newline: str, bom: bytes
) -> None:
    path = tmp_path / "export.ldif"
    path.write_bytes(bom + FOLDED.replace("\n", newline).encode(encoding))
    stats = LdifStats()
    entries = list(read_ldif(path, stats))
    assert [e.dn for e in entries] == [
        "uid=zoe,ou=people,dc=example,dc=org",
        "uid=added,dc=example,dc=org",
    ]
    zoe = entries[0].attributes
    assert zoe["cn"] == ["Zoë Çelik".encode(), "Zoë".encode()]  # options merge into cn
    assert zoe["description"] == [b"a long value that was folded with its space kept"]
    assert zoe["mail"] == [b"padded@example.org"]
    assert stats.skipped_changes == 1
    # an entry can be read again from its offset
    again = read_entry_at(path, entries[1].offset)
    assert again is not None and again.attributes == {"mail": [b"added@example.org"]}


def test_reader_handles_utf16_as_ldifde_u_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "ldifde-u.ldif"
    path.write_bytes(FOLDED.replace("\n", "\r\n").encode("utf-16"))
    entries = list(read_ldif(path))
    assert entries[0].attributes["cn"][0] == "Zoë Çelik".encode()
    assert read_entry_at(path, entries[1].offset).dn == "uid=added,dc=example,dc=org"


def test_reader_reads_file_urls_relative_to_the_export(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8photo\xff\xd9")
    path = tmp_path / "export.ldif"
    path.write_text("dn: uid=a,dc=x\njpegPhoto:< file:photo.jpg\n")
    (entry,) = read_ldif(path, file_urls=FileUrls(allowed=True, root=tmp_path))
    assert entry.attributes["jpegphoto"] == [b"\xff\xd8photo\xff\xd9"]
    stats = LdifStats()  # by default no URL is read
    (entry,) = read_ldif(path, stats)
    assert "jpegphoto" not in entry.attributes
    assert "does not allow file URLs" in stats.warnings[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dn: a=b\nnot an attribute line\n", "line 2: expected 'attribute: value'"),
        (" continued\n", "line 1: a continuation line"),
        ("cn: first\n", "line 1: expected 'dn:'"),
        ("dn: a=b\ncn:: ***\n", "line 2: cn:: is not valid base64"),
    ],
)
def test_reader_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.ldif"
    path.write_text(text)
    with pytest.raises(LdifError, match=message):
        list(read_ldif(path))


# -- the connector --------------------------------------------------------------------------

SEARCHES = [
    [ident("email", "J.DEVRIES@example.org")],
    [ident("phone", "+31881234567"), ident("phone", "06 4445 5566")],
    [ident("name", "Zoë Çelik")],
    [ident("email", "outside@example.org")],
    [ident("username", "*)(uid=*")],
]


@pytest.mark.parametrize("identifiers", SEARCHES)
def test_ldif_finds_what_the_server_finds(slapd: Slapd, identifiers) -> None:
    with ldap_connector(slapd) as server, ldif_connector(PEOPLE_LDIF) as export:
        live, offline = server.scan(identifiers), export.scan(identifiers)
    assert set(by_dn(offline)) == set(by_dn(live))
    for dn, record in by_dn(offline).items():
        other = by_dn(live)[dn]
        assert [m.field for m in record.matches] == [m.field for m in other.matches]
        # the live entry also carries its entryUUID (kept as a field); this export lacks it
        names = [f.spec.name for f in other.fields if f.spec.name != "entryUUID"]
        assert [f.spec.name for f in record.fields] == names
        assert [link.relation for link in record.links] == [link.relation for link in other.links]


def test_slapcat_export_has_the_server_record_keys(slapd: Slapd, tmp_path: Path) -> None:
    export = tmp_path / "slapcat.ldif"
    subprocess.run(
        ["/usr/sbin/slapcat", "-f", str(slapd.config), "-l", str(export)],
        check=True,
        capture_output=True,
    )
    wanted = [ident("email", "zoe.celik@example.org"), ident("email", "j.devries@example.org")]
    with ldap_connector(slapd) as server, ldif_connector(export) as offline:
        live, exported = by_dn(server.scan(wanted)), by_dn(offline.scan(wanted))
    assert set(live) == set(exported)
    assert {r.key for r in live.values()} == {r.key for r in exported.values()}  # entryUUID
    jan = exported["uid=jdevries,ou=staff,ou=people,dc=example,dc=org"]
    assert values(jan, "userPassword") == [WITHHELD]
    assert isinstance(values(jan, "jpegPhoto")[0], bytes)


def test_ldifde_style_export_with_the_ad_mapping() -> None:
    with ldif_connector(
        AD_LDIF, mapping=ACTIVE_DIRECTORY, base_dn="OU=acme,DC=example,DC=org"
    ) as c:
        result = c.scan([ident("email", "jdv@acme-logistiek.nl"), ident("phone", "088-1234567")])
    records = by_dn(result)
    jan = records["cn=jan de vries,ou=users,ou=acme,dc=example,dc=org"]
    zoe = records["cn=zoë çelik,ou=users,ou=acme,dc=example,dc=org"]  # dn:: base64
    assert jan.key == "2f5e6a1c-3b4d-4e8f-9a0b-1c2d3e4f5a6b"
    assert values(jan, "objectSid") == ["S-1-5-21-1004336348-1177238915-682003330-1105"]
    assert [m.field for m in zoe.matches] == ["otherTelephone"]
    assert jan.location == "ad.ldif#OU=acme,DC=example,DC=org"
    planners = records["cn=planners,ou=groups,ou=acme,dc=example,dc=org"]
    assert {link.key for link in planners.links} == {jan.key, zoe.key}
    assert not any("ws-jan-01" in dn for dn in records)


def test_ldif_bases_scope_the_file() -> None:
    with ldif_connector(PEOPLE_LDIF, base_dn=f"ou=people,{SUFFIX}") as export:
        result = export.scan([ident("email", "outside@example.org")])
    assert result.records == []
    with ldif_connector(PEOPLE_LDIF, base_dn=None) as export:  # the whole file
        assert len(export.scan([ident("email", "outside@example.org")]).records) == 1


def test_ldif_index_is_built_once(tmp_path: Path) -> None:
    copy = tmp_path / "people.ldif"  # an export no other test has indexed
    copy.write_bytes(PEOPLE_LDIF.read_bytes())
    with ldif_connector(copy) as export:
        first = export.scan([ident("email", "j.devries@example.org")])
        second = export.scan([ident("email", "zoe.celik@example.org")])
    assert first.rows_read > 20  # the pass over the file
    assert second.rows_read == 2  # Zoë and her group, read from their offsets


def test_ldif_check_mapping_reports_misspelt_attribute_and_wrong_base(tmp_path: Path) -> None:
    import yaml
    from ldap_support import INETORGPERSON

    document = yaml.safe_load(INETORGPERSON.read_text().replace("mobile:", "mobiel:", 1))
    document["entries"]["people"]["bases"] = [{"dn": "ou=peple"}, {"dn": "ou=people"}]
    mapping = tmp_path / "broken.yaml"
    mapping.write_text(yaml.safe_dump(document))
    with ldif_connector(PEOPLE_LDIF, mapping=mapping) as export:
        problems = export.check_mapping()
    assert any("'ou=peple,dc=example,dc=org'" in p and "bases[0]" in p for p in problems)
    assert any("'mobiel'" in p and "the entries have 'mobile'" in p for p in problems)
    assert not any("bases[1]" in p for p in problems)
    # an attribute that no entry happens to hold is not a mistake (no near-spelling)
    assert not any("homePostalAddress" in p or "'l'" in p for p in problems)
    # the test export lacks entryUUID: its records are keyed by DN, unlike the server's
    keys = [p for p in problems if "key attribute 'entryUUID'" in p]
    assert sorted(k.split(" (")[1].split(")")[0] for k in keys) == [
        "entries.groups.key",
        "entries.people.key",
    ]
    assert len(problems) == 2 + len(keys)


def test_missing_and_malformed_files_fail_with_the_source_name(tmp_path: Path) -> None:
    with ldif_connector(tmp_path / "nowhere.ldif") as export, pytest.raises(SourceError) as caught:
        export.scan([ident("email", "a@example.org")])
    assert caught.value.source == "directory-export"
    assert "does not exist" in caught.value.message
    bad = tmp_path / "bad.ldif"
    bad.write_text("dn: uid=a,dc=example,dc=org\nmail a@example.org\n")
    with ldif_connector(bad) as export, pytest.raises(SourceError, match=r"bad\.ldif: line 2"):
        export.scan([ident("email", "a@example.org")])
