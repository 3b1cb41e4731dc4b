"""The connector contract for directories: an LDIF export and a live slapd."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_support import demo_estate, variant, write_sources
from ldap_support import SUFFIX
from support.slapd import Slapd

from connectors.testing import ConnectorContract, ContractCase, Reachable
from discover.demo.people import JAN
from discover.identifiers import Identifier


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_estate(tmp_path_factory.mktemp("demo"))


class TestLdif(ConnectorContract):
    @pytest.fixture
    def contract_case(self, estate: Path) -> ContractCase:
        subject = (Identifier.parse("email", JAN.email),)
        return ContractCase(Reachable(estate, "acme-directory"), subject)

    @pytest.fixture
    def unreachable(self, estate: Path) -> Reachable:
        return variant(estate, "acme-directory", "ad-missing", path="estate/no-such.ldif")


@pytest.mark.slapd
class TestLdap(ConnectorContract):
    @pytest.fixture
    def contract_case(
        self, slapd: Slapd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> ContractCase:
        monkeypatch.setenv("CONTRACT_LDAP_PASSWORD", slapd.rootpw)
        connection = {
            "url": slapd.url,
            "base_dn": SUFFIX,
            "bind_dn": slapd.rootdn,
            "password": "${CONTRACT_LDAP_PASSWORD}",
            "timeout": 5,
        }
        entry = {
            "name": "directory",
            "kind": "ldap",
            "mapping": "shipped:directory/inetorgperson.yaml",
            "connection": connection,
        }
        subject = (Identifier.parse("email", "j.devries@example.org"),)
        # the rootdn's password and every userPassword stay in the directory
        return ContractCase(
            write_sources(tmp_path, entry), subject, (slapd.rootpw, "notarealhash", "reader-secret")
        )

    @pytest.fixture
    def unreachable(self, tmp_path: Path) -> Reachable:
        entry = {
            "name": "directory-down",
            "kind": "ldap",
            "mapping": "shipped:directory/inetorgperson.yaml",
            "connection": {"url": "ldap://127.0.0.1:9", "base_dn": SUFFIX, "connect_timeout": 2},
        }
        return write_sources(tmp_path, entry)
