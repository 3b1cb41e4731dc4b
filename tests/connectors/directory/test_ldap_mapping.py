"""Directory mappings (kind: ldap) and connection settings, offline: clear errors, no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ldap_support import ACTIVE_DIRECTORY, INETORGPERSON, ident, source

from connectors import load_mapping, load_mappings
from connectors.directory.filter import class_filter, search_filters
from connectors.directory.settings import ldap_settings
from connectors.directory.values import apply_transform, dn_key, guid_text, sid_text
from discover.config import shipped_path
from discover.errors import ConfigError, SourceError
from discover.register import default_register
from discover.sources import load_sources


def _load(tmp_path: Path, document: dict[str, Any], kind: str = "ldap"):
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return load_mapping(path, default_register(), expected_kind=kind)


def _base(**entry: Any) -> dict[str, Any]:
    people = {
        "object_classes": ["inetOrgPerson"],
        "category": "managed_it.directory",
        "attributes": {"mail": {"identifier": "email"}},
    }
    people.update(entry)
    return {"version": 1, "kind": "ldap", "entries": {"people": people}}


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"attributes": {"userPassword": {}}}, "attributes.userPassword", "mark it secret"),
        (
            {"attributes": {"pw": {"secret": True, "identifier": "email"}}},
            "attributes.pw",
            "secret attribute cannot also be searched",
        ),
        (
            {"attributes": {"mail": {"identifier": "email"}}, "transforms": {"mail": "tel_uri"}},
            "transforms.mail",
            "tel_uri reads identifiers of type phone",
        ),
        ({"binary": {"jpegPhoto": "octets"}}, "binary.jpegPhoto", "not among the mapped"),
        (
            {"binary": {"mail": "octets"}},
            "binary.mail",
            "a binary attribute cannot be an identifier",
        ),
        ({"category": "managed_it.dirctory"}, "category", "is not a register category"),
        ({"attributes": {"dn": {}}}, "attributes.dn", "'dn' is always reported"),
    ],
)
def test_mapping_errors_name_the_place(
    tmp_path: Path, change: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, _base(**change))
    assert caught.value.place == f"entries.people.{where}"
    assert message in str(caught.value)


def test_schema_errors_name_the_file_and_place(tmp_path: Path) -> None:
    document = _base()
    document["entries"]["people"]["objectclasses"] = ["person"]
    with pytest.raises(ConfigError, match=r"mapping\.yaml"):
        _load(tmp_path, document)
    document = _base()
    document["bases"] = [{"dn": "ou=people", "scope": "subtre"}]
    with pytest.raises(ConfigError, match="subtre"):
        _load(tmp_path, document)


def test_relation_errors(tmp_path: Path) -> None:
    document = _base()
    document["relations"] = [{"from": "groups.member", "to": "people", "follow": "backward"}]
    with pytest.raises(ConfigError, match="entry type 'groups' is not mapped"):
        _load(tmp_path, document)
    document["relations"] = [{"from": "people.member", "to": "people", "follow": "backward"}]
    with pytest.raises(ConfigError, match="attribute 'member' is not mapped"):
        _load(tmp_path, document)


def test_an_ldif_source_uses_the_ldap_mapping(tmp_path: Path) -> None:
    loaded = _load(tmp_path, _base(), kind="ldif")
    assert loaded.kind == "ldap"


def test_shipped_mappings_and_their_example_sources(tmp_path: Path) -> None:
    env = {
        "LDAP_URL": "ldaps://dc01.acme.local",
        "LDAP_BASE_DN": "DC=acme,DC=local",
        "LDAP_BIND_DN": "CN=svc-discover,DC=acme,DC=local",
        "LDAP_BIND_PASSWORD": "from-the-environment",
        "LDIF_FILE": str(tmp_path / "export.ldif"),
    }
    for name in ("inetorgperson", "active-directory", "ldif-export"):
        sources = load_sources(shipped_path("directory", f"{name}.sources.yaml"), environ=env)
        load_mappings(sources)
    ad = load_mapping(ACTIVE_DIRECTORY, default_register()).model
    people = ad.entries["people"]
    assert people.attributes["proxyaddresses"].transform == "proxy_address"
    assert people.attributes["msrtcsip-line"].transform == "tel_uri"
    assert people.attributes["objectguid"].binary == "guid"
    assert people.attributes["userpassword"].spec.secret
    assert people.attributes["manager"].spec.third_party
    inet = load_mapping(INETORGPERSON, default_register()).model
    assert inet.entries["people"].attributes["jpegphoto"].binary == "octets"
    assert inet.entries["people"].attributes["secretary"].spec.third_party
    # the example sources file refuses to run without the variables
    with pytest.raises(ConfigError, match="LDAP_URL is not set"):
        load_sources(shipped_path("directory", "inetorgperson.sources.yaml"), environ={})


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"url": ""}, "connection.url is not set"),
        ({"url": "ldap://h", "page_size": "many"}, r"connection\.page_size: expected a number"),
        ({"url": "ldap://h", "start_tls": "perhaps"}, r"connection\.start_tls: expected true"),
        ({"url": "ldap://h:port"}, "is not a number"),
    ],
)
def test_connection_settings_errors(connection: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        ldap_settings(source("dir", "ldap", INETORGPERSON, connection))


def test_connection_settings_from_environment_text() -> None:
    settings = ldap_settings(
        source(
            "dir",
            "ldap",
            INETORGPERSON,
            {"url": "ldaps://dc01:636", "start_tls": "false", "timeout": "7", "size_limit": "10"},
        )
    )
    assert (settings.use_ssl, settings.port, settings.start_tls) == (True, 636, False)
    assert (settings.timeout, settings.size_limit, settings.page_size) == (7, 10, 500)


def test_filters_and_values() -> None:
    ad = load_mapping(ACTIVE_DIRECTORY, default_register()).model.entries["people"]
    assert class_filter(ad) == "(&(objectClass=user)(!(objectClass=computer)))"
    (text,) = search_filters(ad, [ident("email", "jan@x.nl")], max_terms=100)
    assert "(proxyAddresses=smtp:jan@x.nl)" in text and "(mail=jan@x.nl)" in text
    (text,) = search_filters(ad, [ident("phone", "+31102345201")], max_terms=1000)
    assert "(msRTCSIP-Line=tel:+31102345201;*)" in text
    # plain attributes: the last digits in order, whatever the spelling around them
    assert "(otherTelephone=*0*2*3*4*5*2*0*1*)" in text
    assert apply_transform("proxy_address", "X400:c=NL;a= ;p=Acme") is None
    assert apply_transform("sip_uri", "sip:+31102345201@acme.nl;user=phone") == "+31102345201"
    assert guid_text(bytes(range(16))) == "03020100-0504-0706-0809-0a0b0c0d0e0f"
    sid = bytes.fromhex("01020000000000052000000020020000")
    assert sid_text(sid) == "S-1-5-32-544"  # BUILTIN\Administrators
    assert dn_key("CN=Vries\\, Jan de ,OU=Users") == dn_key("cn=vries\\2c jan de,ou=users")
