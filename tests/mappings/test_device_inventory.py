"""Shipped VoIP device inventory mapping on the demo's CSV: MACs in mixed notations,
extensions scoped by the PBX column, and the chain extension -> handset MAC -> last IP
together with the VoIP provisioning connector."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tabular_demo import demo_sources, field_values, hits, records, run

from discover.demo.devices import build_devices
from discover.demo.people import FATIMA, JAN, NAMESAKE, PIETER, ZOE
from discover.demo.voip import build_provisioning

SOURCE = "voip-devices"


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory):
    return demo_sources(tmp_path_factory.mktemp("devices"), build_devices)


@pytest.mark.parametrize(
    ("person", "key", "shown"),
    [
        (JAN, "row=2", "00:15:65:AB:CD:01"),
        (ZOE, "row=3", "0015.65ab.cd02"),
        (PIETER, "row=4", "00-15-65-ab-cd-03"),
        (FATIMA, "row=5", "001565ABCD04"),
        (NAMESAKE, "row=6", "00:04:F2:AA:00:10"),
    ],
)
def test_every_mac_notation_is_found(devices, person, key: str, shown: str) -> None:
    result = run(devices, ("mac", person.mac))
    assert records(result, SOURCE) == {key: ("normalised", False)}
    assert field_values(result, SOURCE, key)["mac"] == shown


def test_extension_is_scoped_by_the_pbx_column(devices) -> None:
    result = run(devices, ("extension", "acme/201"))
    assert records(result, SOURCE) == {"row=2": ("exact", False)}
    values = field_values(result, SOURCE, "row=2")
    assert values["extension"] == "acme/201" and values["pbx"] == "acme"
    assert values["last_ip"] == "192.0.2.101"
    traces = {str(t.identifier): t for t in result.traces}
    assert (
        traces[f"mac:{JAN.mac}"].found_in == f"{SOURCE}:estate/voip/device-inventory.csv[row=2].mac"
    )
    assert "ip:192.0.2.101" not in traces  # a LAN address is shown, never searched
    # another client's 201 is another line; an unscoped 201 names no line at all
    assert records(run(devices, ("extension", "bakkerij/201")), SOURCE) == {}
    assert records(run(devices, ("extension", "201")), SOURCE) == {}
    assert records(run(devices, ("extension", "bakkerij/10")), SOURCE) == {
        "row=6": ("exact", False)
    }


def test_chain_extension_mac_last_ip_with_the_provisioning_files(tmp_path: Path) -> None:
    sources = demo_sources(tmp_path, build_provisioning, build_devices)
    result = run(sources, ("extension", "acme/201"))
    frame = hits(result)
    assert records(result, SOURCE) == {"row=2": ("exact", False)}
    provisioning = frame.filter((pl.col("source") == "provisioning") & (pl.col("field") == "mac"))
    assert JAN.mac in set(provisioning["value"])
    ips = frame.filter((pl.col("source") == SOURCE) & (pl.col("field") == "last_ip"))
    assert ips.select("value", "match").rows() == [("192.0.2.101", "exact")]
    # the handset found by its MAC in the provisioning files hangs from the extension
    traces = {str(t.identifier): t for t in result.traces}
    assert str(traces[f"mac:{JAN.mac}"].parent) == "extension:acme/201"
