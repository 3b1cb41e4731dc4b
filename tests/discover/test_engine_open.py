"""How a search opens its own connectors: a provisioning source first, its listing
started ahead; every mapping still checked before any source is searched."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from engine_support import build_demo, sources_file, sql_source
from support.processes import reaped

import connectors.voip.ahead as ahead_module
from connectors.voip.ahead import AheadListing
from discover.engine import search
from discover.errors import ConfigError
from discover.request import build_request

FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures"
PROVISIONING = FIXTURES / "voip" / "provisioning"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[AheadListing]:
    """Every listing started ahead; the process counts as alone (the test runner may
    hold threads of earlier tests, none of which the child's listing could need)."""
    monkeypatch.setattr(ahead_module.threading, "active_count", lambda: 1)
    listings: list[AheadListing] = []
    real = AheadListing.start.__func__

    def recording(cls: type[AheadListing], *args: Any) -> AheadListing | None:
        listing = real(cls, *args)
        if listing is not None:
            listings.append(listing)
        return listing

    monkeypatch.setattr(AheadListing, "start", classmethod(recording))
    return listings


def _sources(tmp_path: Path, crm_mapping: str) -> Any:
    build_demo(tmp_path)
    shutil.copytree(PROVISIONING, tmp_path / "provisioning")
    return sources_file(
        tmp_path,
        [
            sql_source("crm", crm_mapping, "sqlite:///crm.sqlite"),
            {
                "name": "provisioning",
                "kind": "voip",
                "mapping": "shipped:voip/provisioning.yaml",
                "connection": {"directory": "provisioning", "index_cache": str(tmp_path / "c")},
            },
        ],
    )


def test_the_provisioning_listing_starts_before_the_other_sources_open(
    tmp_path: Path, started: list[AheadListing], monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.registry as registry

    loaded: list[str] = []
    real_load = registry.load_mapping

    def loading(path: Path, *args: Any, **kwargs: Any) -> Any:
        loaded.append(f"{path.name}:{len(started)}")
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr("discover.engine.load_mapping", loading)
    sources = _sources(tmp_path, "shipped:demo/crm.yaml")
    result = search(build_request([("email", "jan.devries@acme-logistiek.nl")]), sources)
    # the provisioning mapping loaded first; the CRM's after its listing had started
    assert loaded == ["provisioning.yaml:0", "crm.yaml:1"]
    assert [s.name for s in result.sources] == ["crm", "provisioning"]  # the file's order
    assert {s.status for s in result.sources} == {"ok"}
    assert len(started) == 1 and reaped(started[0].pid)


def test_a_malformed_mapping_still_stops_the_search_and_the_listing(
    tmp_path: Path, started: list[AheadListing]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nkind: sql\ntables: {contacts: {key: id}}\n")
    sources = _sources(tmp_path, str(broken))
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        search(build_request([("email", "jan.devries@acme-logistiek.nl")]), sources)
    assert len(started) == 1 and reaped(started[0].pid)
