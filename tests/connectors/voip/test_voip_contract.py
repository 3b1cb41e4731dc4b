"""The connector contract for VoIP provisioning directories: the demo provisioning server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from contract_support import demo_estate, variant

from connectors.testing import ConnectorContract, ContractCase, Reachable
from discover.demo.people import JAN
from discover.identifiers import Identifier


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_estate(tmp_path_factory.mktemp("demo"))


def _passwords(directory: Path) -> tuple[str, ...]:
    """Every password the demo build wrote into the provisioning files (random per build)."""
    found: set[str] = set()
    for path in directory.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8", errors="replace")
            for value in re.findall(r"password\s*[=:>\"]\s*(?:\w+:)?([A-Za-z0-9_-]{12,})", text):
                found.add(value)
    return tuple(sorted(found))


class TestProvisioning(ConnectorContract):
    @pytest.fixture
    def contract_case(self, estate: Path) -> ContractCase:
        subject = (Identifier.parse("mac", JAN.mac),)
        secrets = _passwords(estate.parent / "estate" / "provisioning")
        assert secrets, "the demo provisioning files hold passwords"
        return ContractCase(Reachable(estate, "provisioning"), subject, secrets)

    @pytest.fixture
    def unreachable(self, estate: Path) -> Reachable:
        return variant(estate, "provisioning", "prov-missing", directory="estate/no-such-dir")
