"""Record identity of directory entries: the same key live and from an export that has it,
with the DN and the key attribute both kept as fields."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ldap_support import PEOPLE_LDIF, by_dn, ident, ldap_connector, ldif_connector, values
from support.slapd import Slapd

JAN = "uid=jdevries,ou=staff,ou=people,dc=example,dc=org"


@pytest.mark.slapd
def test_live_and_slapcat_records_share_key_dn_and_entry_uuid(slapd: Slapd, tmp_path: Path) -> None:
    export = tmp_path / "slapcat.ldif"
    subprocess.run(
        ["/usr/sbin/slapcat", "-f", str(slapd.config), "-l", str(export)],
        check=True,
        capture_output=True,
    )
    wanted = [ident("email", "j.devries@example.org")]
    with ldap_connector(slapd) as server, ldif_connector(export) as offline:
        live, exported = by_dn(server.scan(wanted))[JAN], by_dn(offline.scan(wanted))[JAN]
    assert live.key == exported.key
    assert values(live, "entryUUID") == values(exported, "entryUUID") == [live.key]
    assert values(live, "dn") == values(exported, "dn") == [JAN]


def test_an_export_without_the_key_attribute_says_so_in_the_live_check() -> None:
    with ldif_connector(PEOPLE_LDIF) as export:
        problems = export.check_mapping()
        jan = by_dn(export.scan([ident("email", "j.devries@example.org")]))[JAN]
    assert jan.key == JAN  # keyed by DN: the export has no entryUUID
    assert any("key attribute 'entryUUID' (entries.people.key)" in p for p in problems)
