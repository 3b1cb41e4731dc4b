"""The connector contract for SQL: the demo CRM in SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from contract_support import demo_estate, variant, write_sources

from connectors.testing import ConnectorContract, ContractCase, Reachable
from discover.demo.databases import build_crm
from discover.demo.people import JAN
from discover.identifiers import Identifier

#: stored in the CRM (internet lines, website accounts): never in a record
CRM_SECRETS = ("Pp0e-Acme!2026", "Bakk3rij#Line", "$argon2id$")
SUBJECT = (Identifier.parse("email", JAN.email), Identifier.parse("phone", JAN.mobile))


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_estate(tmp_path_factory.mktemp("demo"))


class TestSqlite(ConnectorContract):
    @pytest.fixture
    def contract_case(self, estate: Path) -> ContractCase:
        return ContractCase(Reachable(estate, "crm"), SUBJECT, CRM_SECRETS)

    @pytest.fixture
    def unreachable(self, estate: Path) -> Reachable:
        return variant(estate, "crm", "crm-missing", url="sqlite:///estate/no-such.sqlite")


def _server_case(url: str, folder: Path) -> ContractCase:
    engine = sa.create_engine(url)
    try:
        build_crm(engine)
    finally:
        engine.dispose()
    entry = {"name": "crm", "kind": "sql", "mapping": "shipped:demo/crm.yaml"}
    return ContractCase(
        write_sources(folder, {**entry, "connection": {"url": url}}), SUBJECT, CRM_SECRETS
    )


def _closed_port(url: str, folder: Path) -> Reachable:
    broken = sa.make_url(url).set(host="127.0.0.1", port=9).render_as_string(hide_password=False)
    entry = {"name": "crm-down", "kind": "sql", "mapping": "shipped:demo/crm.yaml"}
    return write_sources(folder, {**entry, "connection": {"url": broken, "timeout": 2}})


@pytest.mark.postgres
class TestPostgres(ConnectorContract):
    @pytest.fixture
    def contract_case(self, postgres_url: str, tmp_path: Path) -> ContractCase:
        return _server_case(postgres_url, tmp_path)

    @pytest.fixture
    def unreachable(self, postgres_url: str, tmp_path: Path) -> Reachable:
        return _closed_port(postgres_url, tmp_path)


@pytest.mark.mariadb
class TestMariadb(ConnectorContract):
    @pytest.fixture
    def contract_case(self, mariadb_url: str, tmp_path: Path) -> ContractCase:
        return _server_case(mariadb_url, tmp_path)

    @pytest.fixture
    def unreachable(self, mariadb_url: str, tmp_path: Path) -> Reachable:
        return _closed_port(mariadb_url, tmp_path)
