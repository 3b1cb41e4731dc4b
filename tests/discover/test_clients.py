"""The sources file's clients: whom a record's client field or place names, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from discover.clients import ClientDirectory, client_key, read_clients
from discover.config import shipped_path
from discover.errors import ConfigError
from discover.sources import load_sources

ACME = "Acme Logistiek B.V."
BAKKERIJ = "Bakkerij De Vries"

CLIENTS: dict[str, Any] = {
    ACME: {
        "address": "Wijnhaven 12, 3011 WR Rotterdam",
        "privacy_contact": "privacy@acme-logistiek.nl",
        "identifiers": ["acme", 4711, {"source": "crm", "value": "1"}],
    },
    BAKKERIJ: {
        "privacy_contact": "privacy@bakkerijdevries.nl",
        "identifiers": ["bakkerij", {"source": "crm", "value": 2}],
    },
}


@pytest.fixture
def clients() -> ClientDirectory:
    return read_clients(CLIENTS, file="sources.yaml")


def test_a_client_is_found_by_name_and_identifiers_whatever_the_case_and_spaces(
    clients: ClientDirectory,
) -> None:
    assert clients.find("  acme logistiek b.v. ", "inventory") == ACME
    assert clients.find("ACME", "provisioning") == ACME
    assert clients.find(4711, "inventory") == ACME  # a customer number stored as a number
    assert clients.find("Bakkerij", "provisioning") == BAKKERIJ
    assert clients.document(ACME) == {
        "name": ACME,
        "address": "Wijnhaven 12, 3011 WR Rotterdam",
        "privacy_contact": "privacy@acme-logistiek.nl",
    }


def test_an_identifier_given_for_one_source_names_the_client_there_only(
    clients: ClientDirectory,
) -> None:
    assert clients.find(1, "crm") == ACME  # the CRM's organisation number 1
    assert clients.find("2", "crm") == BAKKERIJ
    assert clients.find(1, "mobile-inventory") is None  # another system's "1" is not Acme


@pytest.mark.parametrize(
    "value",
    ["Acme Logistiek", "Acme Logistiek BV", "acme-logistiek", "Acme Logistiek B.V. (Rotterdam)"],
)
def test_nothing_is_matched_fuzzily(clients: ClientDirectory, value: str) -> None:
    assert clients.find(value, "crm") is None


def test_a_record_names_one_known_client_or_none(clients: ClientDirectory) -> None:
    assert clients.attribute("crm", [1, ACME]).client == ACME  # number and name agree
    assert clients.attribute("crm", [None, " ", 2]).client == BAKKERIJ  # empty values ignored
    assert clients.attribute("crm", [None, ""]).client is None
    unknown = clients.attribute("crm", [1, "Acme Holding"])
    assert unknown.client is None and unknown.unknown == ("Acme Holding",)
    two = clients.attribute("crm", [1, 2])
    assert two.client is None and two.conflicting


def test_no_name_or_identifier_may_name_two_clients() -> None:
    with pytest.raises(ConfigError, match=r"clients\.Bakkerij De Vries\.identifiers\[0\]"):
        read_clients(
            {ACME: {"identifiers": ["shop"]}, BAKKERIJ: {"identifiers": ["SHOP "]}}, file="s"
        )
    with pytest.raises(ConfigError, match="would name both"):
        read_clients({ACME: {}, BAKKERIJ: {"identifiers": ["acme logistiek b.v."]}}, file="s")
    with pytest.raises(ConfigError, match="in source 'crm' would name both"):
        read_clients(
            {
                ACME: {"identifiers": ["7"]},
                BAKKERIJ: {"identifiers": [{"source": "crm", "value": 7}]},
            },
            file="s",
        )
    # one client may give the same value twice, and each client the same value elsewhere
    read_clients(
        {
            ACME: {"identifiers": ["acme", "ACME", {"source": "crm", "value": 1}]},
            BAKKERIJ: {"identifiers": [{"source": "inventory", "value": 1}]},
        },
        file="s",
    )


def test_client_key_folds_only_case_surrounding_space_and_unicode_form() -> None:
    assert client_key(" Zoë ") == client_key("ZOE\u0308")  # composed and decomposed ë
    assert client_key("De  Vries") != client_key("De Vries")
    assert client_key("   ") is None and client_key(None) is None


def _sources(tmp_path: Path, **top: Any) -> Path:
    document = {
        "version": 1,
        **top,
        "sources": [
            {
                "name": "crm",
                "kind": "sql",
                "mapping": str(shipped_path("demo", "crm.yaml")),
                "connection": {"url": "sqlite:///crm.sqlite"},
            },
            {
                "name": "acme-crm",
                "kind": "sql",
                "mapping": str(shipped_path("demo", "crm.yaml")),
                "client": ACME,
                "connection": {"url": "sqlite:///crm.sqlite"},
            },
        ],
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_the_sources_file_carries_the_directory_and_a_source_s_client_contact(
    tmp_path: Path,
) -> None:
    config = load_sources(_sources(tmp_path, clients=CLIENTS), environ={})
    assert config.clients.find("1", "crm") == ACME
    _crm, acme = config.sources
    # the identifiers are how records name the client, not contact details
    assert acme.client_document() == {
        "name": ACME,
        "address": "Wijnhaven 12, 3011 WR Rotterdam",
        "privacy_contact": "privacy@acme-logistiek.nl",
    }


def test_a_sources_file_without_identifiers_or_clients_still_loads(tmp_path: Path) -> None:
    plain = {ACME: {"address": "Wijnhaven 12", "privacy_contact": "privacy@acme-logistiek.nl"}}
    config = load_sources(_sources(tmp_path, clients=plain), environ={})
    assert config.clients.find(ACME, "crm") == ACME and config.clients.find("1", "crm") is None
    assert not load_sources(_sources(tmp_path), environ={}).clients


def test_a_malformed_identifier_is_refused_with_its_place(tmp_path: Path) -> None:
    bad = {ACME: {"identifiers": [{"value": "1"}]}}
    with pytest.raises(ConfigError, match=r"clients"):
        load_sources(_sources(tmp_path, clients=bad), environ={})
    empty = {ACME: {"identifiers": ["  "]}}
    with pytest.raises(ConfigError, match=r"identifiers\[0\]: an empty identifier"):
        load_sources(_sources(tmp_path, clients=empty), environ={})
