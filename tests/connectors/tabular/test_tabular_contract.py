"""The connector contract for spreadsheets and flat files: the demo SIM inventory and keyholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_support import demo_estate, variant

from connectors.testing import ConnectorContract, ContractCase, Reachable
from discover.demo.alarm import CODEWORDS
from discover.demo.mobile import PUKS
from discover.demo.people import JAN
from discover.identifiers import Identifier


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_estate(tmp_path_factory.mktemp("demo"))


class TestXlsxInventory(ConnectorContract):
    @pytest.fixture
    def contract_case(self, estate: Path) -> ContractCase:
        subject = (Identifier.parse("iccid", JAN.iccid),)
        return ContractCase(Reachable(estate, "mobile-inventory"), subject, tuple(PUKS.values()))

    @pytest.fixture
    def unreachable(self, estate: Path) -> Reachable:
        return variant(estate, "mobile-inventory", "sims-missing", path="estate/no-such.xlsx")


class TestXlsxKeyholders(ConnectorContract):
    @pytest.fixture
    def contract_case(self, estate: Path) -> ContractCase:
        subject = (Identifier.parse("email", JAN.email),)
        # codewords long enough not to occur inside other values by chance
        secrets = tuple(word for word in CODEWORDS.values() if len(word) > 6)
        return ContractCase(Reachable(estate, "alarm-keyholders"), subject, secrets)

    @pytest.fixture
    def unreachable(self, estate: Path) -> Reachable:
        return variant(estate, "alarm-keyholders", "keys-missing", path="estate/no-such.xlsx")


class TestCsv(ConnectorContract):
    @pytest.fixture
    def contract_case(self, estate: Path) -> ContractCase:
        subject = (Identifier.parse("phone", JAN.mobile),)
        return ContractCase(Reachable(estate, "roaming-notifications"), subject)

    @pytest.fixture
    def unreachable(self, estate: Path) -> Reachable:
        return variant(estate, "roaming-notifications", "csv-missing", path="estate/no-such.csv")
