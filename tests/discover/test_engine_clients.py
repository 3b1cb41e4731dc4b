"""A source of several clients: each hit names the client its record is held for."""

from __future__ import annotations

from pathlib import Path

from support.two_clients import (
    ACME,
    ACME_CONTACT,
    BAKKERIJ,
    BAKKERIJ_CONTACT,
    EVA,
    TOM,
    write_sources,
)

from discover.engine import SearchResult, search
from discover.request import build_request
from discover.sources import load_sources


def _run(directory: Path, *identifiers: tuple[str, str], clients: bool = True) -> SearchResult:
    sources = load_sources(write_sources(directory, clients=clients), environ={})
    return search(build_request(list(identifiers), request_id="REQ-C"), sources)


def _clients(result: SearchResult) -> dict[tuple[str, str], set[str | None]]:
    found: dict[tuple[str, str], set[str | None]] = {}
    for hit in result.hits.to_pylist():
        found.setdefault((hit["location"], hit["record_key"]), set()).add(hit["client"])
    return found


def test_a_contact_of_two_clients_has_each_record_named_by_its_own_client(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, EVA)
    assert _clients(result) == {
        ("contacts", "id=1"): {ACME},
        ("contacts", "id=2"): {BAKKERIJ},
        ("organisations", "id=1"): {ACME},  # by its name
        ("organisations", "id=2"): {BAKKERIJ},
        ("internet_lines", "id=1"): {ACME},  # by the CRM's organisation number
        ("internet_lines", "id=2"): {BAKKERIJ},
    }
    assert result.clients == {
        ACME: {"name": ACME, **ACME_CONTACT},
        BAKKERIJ: {"name": BAKKERIJ, **BAKKERIJ_CONTACT},
    }
    assert not [w for w in result.warnings if "client" in w]


def test_a_value_naming_no_listed_client_is_never_guessed_and_is_a_warning(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, TOM)
    clients = _clients(result)
    assert clients[("organisations", "id=3")] == {None}  # "Café Noord" is no listed client
    assert clients[("internet_lines", "id=4")] == {None}  # organisation number 3
    assert clients[("internet_lines", "id=5")] == {None}  # no organisation at all
    assert result.clients == {}
    (warning,) = [w for w in result.warnings if "client" in w]
    assert warning.startswith("source crm: 2 record(s) of client categories name a client")
    assert "(3, Café Noord)" in warning and "named generically" in warning


def test_without_a_clients_block_no_record_names_a_client(tmp_path: Path) -> None:
    result = _run(tmp_path, EVA, clients=False)
    assert set(result.hits.column("client").to_pylist()) == {None}
    warnings = [w for w in result.warnings if "client" in w]
    assert len(warnings) == 1 and "(1, 2, Acme Logistiek B.V. …)" in warnings[0]
