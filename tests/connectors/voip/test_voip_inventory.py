"""Provisioning files and the device inventory CSV together: extension -> MAC -> last IP.

The device inventory (mappings/voip/device-inventory.yaml, kind tabular, read by the
tabular connector) scopes its extensions by its PBX column, the provisioning
connector by the client directory: both say "acme/201". The chain runs through the
real engine over both sources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from voip_helpers import FIXTURES, PROVISIONING, by_record, run, sources_file

INVENTORY = FIXTURES / "device-inventory.csv"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    inventory = {
        "name": "voip-devices",
        "kind": "tabular",
        "mapping": "shipped:voip/device-inventory.yaml",
        "connection": {"path": str(INVENTORY)},
    }
    return sources_file(tmp_path, PROVISIONING, extra=[inventory])


def test_extension_to_handset_mac_to_its_last_ip(sources: Path) -> None:
    """Zoë's inventory row has no extension: only her handset's MAC leads to its IP."""
    result = run(sources, ("extension", "acme/202"))
    assert result.complete
    handset = by_record(result.hits)[("acme/phone202.cfg", "account 1")]
    assert handset[0] == "exact" and handset[2]["mac"] == "001565abcd02"
    rows = [r for r in result.hits.to_pylist() if r["source"] == "voip-devices"]
    assert len({r["record_key"] for r in rows}) == 1  # her handset's row, no other
    fields = {r["field"]: r["value"] for r in rows}
    assert fields["last_ip"] == "192.0.2.102"
    assert fields["mac"] == "0015.65ab.cd02"
    assert {r["match"] for r in rows} == {"expanded"}
    assert {r["matched_on"] for r in rows} == {"mac:001565abcd02"}
    via = rows[0]["via"]
    assert via.startswith("extension:acme/202 -> provisioning:acme/phone202.cfg[account 1].mac")
    assert via.endswith("mac:001565abcd02")
    # the IP is shown, never searched for in turn (every client's LAN reuses it)
    assert "ip:192.0.2.102" not in {str(t.identifier) for t in result.traces}


def test_scoped_extension_links_both_sources_and_other_clients_stay_out(sources: Path) -> None:
    """acme/201 finds Jan's handset and his inventory row; Globex's 201 is someone else."""
    result = run(sources, ("extension", "acme/201"))
    devices = by_record(result.hits, source="voip-devices")
    assert len(devices) == 1
    ((match, third, fields),) = devices.values()
    assert (match, third) == ("exact", False)
    assert fields["mac"] == "00:15:65:AB:CD:01"
    assert fields["last_ip"] == "192.0.2.101"
    assert fields["pbx"] == "acme"
    matched_on = {r["matched_on"] for r in result.hits.to_pylist() if r["source"] == "voip-devices"}
    assert matched_on == {"extension:acme/201; mac:001565abcd01"}
    assert "192.0.2.199" not in {r["value"] for r in result.hits.to_pylist()}


def test_mac_from_the_inventory_finds_the_provisioning_files(sources: Path) -> None:
    """The other way round: an IP-less search by MAC in the inventory's notation."""
    result = run(sources, ("mac", "0004.f2aa.0010"))
    handsets = by_record(result.hits)
    assert handsets[("bakkerij/0004F2AA0010.xml", "account 1")][0] == "exact"
    devices = by_record(result.hits, source="voip-devices")
    assert [f["last_ip"] for _, _, f in devices.values()] == ["198.51.100.10"]
