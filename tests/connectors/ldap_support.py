"""Helpers for the directory connector tests: the real slapd, connectors, identifiers.

The test directory is loaded from ldap_data/ (people.ldif: inetOrgPerson; ad.ldif:
Active Directory stand-in entries, which need ../support/ad-test.schema). The
connector under test binds as the rootdn through a sources-file-like connection.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from connectors import load_mapping
from connectors.base import ScanResult
from connectors.directory.ldap import LdapConnector
from connectors.directory.ldif import LdifConnector
from discover.config import shipped_path
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import Settings, SourceConfig

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.slapd import Slapd, missing  # noqa: E402

DATA = Path(__file__).with_name("ldap_data")
PEOPLE_LDIF = DATA / "people.ldif"
AD_LDIF = DATA / "ad.ldif"
SUFFIX = "dc=example,dc=org"
AD_BASE = "OU=acme,DC=example,DC=org"
INETORGPERSON = shipped_path("directory", "inetorgperson.yaml")
ACTIVE_DIRECTORY = shipped_path("directory", "active-directory.yaml")


def server_missing(what: str, reason: str) -> None:
    """tests/conftest.py's server_missing (fails under CI=true, skips otherwise)."""
    spec = importlib.util.spec_from_file_location("_discover_root_conftest", TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.server_missing(what, reason)


def start_directory(root: Path, **options: Any) -> Slapd:
    """A started slapd under ``root`` holding the people and AD test entries."""
    reason = missing()
    if reason:
        server_missing("slapd", reason)
    server = Slapd(root, suffix=SUFFIX, ad_schema=True, **options)
    server.slapadd(PEOPLE_LDIF)
    server.slapadd(AD_LDIF)
    server.start()
    return server


def source(name: str, kind: str, mapping: Path, connection: dict[str, Any], **extra: Any):
    return SourceConfig(
        name=name,
        kind=kind,
        mapping_path=mapping,
        connection=connection,
        base_dir=extra.pop("base_dir", Path.cwd()),
        **extra,
    )


def ldap_connector(
    server: Slapd,
    *,
    mapping: Path = INETORGPERSON,
    base_dn: str = SUFFIX,
    settings: Settings | None = None,
    name: str = "directory",
    **connection: Any,
) -> LdapConnector:
    """A connector for ``server`` bound as its rootdn (connection settings overridable)."""
    register = default_register()
    loaded = load_mapping(mapping, register, expected_kind="ldap")
    values = {
        "url": server.url,
        "base_dn": base_dn,
        "bind_dn": server.rootdn,
        "password": server.rootpw,
        "timeout": 5,
        "connect_timeout": 3,
    }
    values.update(connection)
    config = source(name, "ldap", mapping, {k: v for k, v in values.items() if v is not None})
    return LdapConnector(config, loaded.model, register, settings or Settings())


def ldif_connector(
    path: Path,
    *,
    mapping: Path = INETORGPERSON,
    base_dn: str | None = SUFFIX,
    name: str = "directory-export",
) -> LdifConnector:
    register = default_register()
    loaded = load_mapping(mapping, register, expected_kind="ldif")
    connection: dict[str, Any] = {"path": str(path)}
    if base_dn:
        connection["base_dn"] = base_dn
    return LdifConnector(
        source(name, "ldif", mapping, connection), loaded.model, register, Settings()
    )


def ident(kind: str, raw: str) -> Identifier:
    return Identifier.parse(kind, raw)


def by_dn(result: ScanResult) -> dict[str, Any]:
    """Records of a scan by their DN (lower case)."""
    return {str(record.fields[0].value).lower(): record for record in result.records}


def values(record: Any, field: str) -> list[Any]:
    return [item.value for item in record.fields if item.spec.name == field]
