"""A provisioning directory of several clients: each record's client is its folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from voip_helpers import PROVISIONING, masked, run

from connectors import load_mapping
from connectors.voip.connector import VoipConnector
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import load_sources

ACME = "Acme Logistiek B.V."
BAKKERIJ = "Bakkerij De Vries"
WANTED = [
    Identifier("extension", "acme/201"),
    Identifier("mac", "001565abcd03"),
    Identifier("phone", "+31655501299"),  # in the phonebook of Bakkerij's handset
]


def _sources(tmp_path: Path, directory: Path, **source: Any) -> Path:
    document = {
        "version": 1,
        "clients": {ACME: {"identifiers": ["acme"]}, BAKKERIJ: {"identifiers": ["bakkerij"]}},
        "sources": [
            {
                "name": "provisioning",
                "kind": "voip",
                "mapping": "shipped:voip/provisioning.yaml",
                "connection": {"directory": str(directory)},
                **source,
            }
        ],
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _clients(tmp_path: Path, sources: Path) -> dict[tuple[str, str], str | None]:
    config = load_sources(sources)
    register = default_register()
    source = config.sources[0]
    mapping = load_mapping(source.mapping_path, register, overrides=source.overrides).model
    connector = VoipConnector(source, mapping, register, config.settings)
    try:
        found = connector.scan(WANTED)
    finally:
        connector.close()
    return {(r.location, r.key): r.client for r in found.records if r.matches}


@pytest.mark.parametrize("index", [True, False])
def test_each_record_carries_its_client_folder(tmp_path: Path, index: bool) -> None:
    connection = {"index_cache": str(tmp_path / "cache")} if index else {"index": False}
    sources = _sources(
        tmp_path, PROVISIONING, connection={"directory": str(PROVISIONING), **connection}
    )
    found = _clients(tmp_path, sources)
    expected = {
        ("acme/001565abcd01.cfg", "account 1"): "acme",
        ("acme/spa001565abcd03.xml", "account 1"): "acme",
        (masked("bakkerij/0004F2AA0010.xml#tbook"), "entry 1"): "bakkerij",
    }
    assert found.items() >= expected.items()
    assert all(client == location.split("/")[0] for (location, _key), client in found.items())


def test_the_client_level_follows_the_mapping_and_a_file_above_it_has_none(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "tftp"
    shutil.copytree(PROVISIONING / "acme", directory / "hosted" / "acme")
    shutil.copy(PROVISIONING / "acme" / "spa001565abcd03.xml", directory / "hosted")
    override = {"scope": {"level": 2}, "client": {"level": 2}}
    sources = _sources(tmp_path, directory, override=override)
    found = _clients(tmp_path, sources)
    assert found[("hosted/acme/001565abcd01.cfg", "account 1")] == "acme"
    assert found[("hosted/spa001565abcd03.xml", "account 1")] is None  # no client folder


def test_the_search_names_each_record_s_client_and_warns_of_an_unknown_folder(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "prov"
    shutil.copytree(PROVISIONING / "acme", directory / "acme")
    shutil.copytree(PROVISIONING / "bakkerij", directory / "cust-0042")  # no client lists it
    result = run(_sources(tmp_path, directory), ("mac", "001565abcd01"), ("mac", "0004f2aa0010"))
    clients = {
        (h["location"], h["record_key"]): h["client"]
        for h in result.hits.to_pylist()
        if h["match"] != "related"
    }
    assert clients[("acme/001565abcd01.cfg", "account 1")] == ACME
    assert clients[("cust-0042/0004F2AA0010.xml", "account 1")] is None
    assert result.clients == {ACME: {"name": ACME}}
    (warning,) = [w for w in result.warnings if "cust-0042" in w]
    # the handset and its phonebook's entries
    assert warning.startswith("source provisioning: 3 record(s) of client categories")
    assert "(cust-0042)" in warning and "named generically" in warning


def test_a_source_of_one_client_names_it_whatever_its_folders(tmp_path: Path) -> None:
    sources = _sources(tmp_path, PROVISIONING, client=BAKKERIJ)
    result = run(sources, ("mac", "001565abcd01"))
    assert {h["client"] for h in result.hits.to_pylist()} == {BAKKERIJ}
    assert not [w for w in result.warnings if "client" in w]
