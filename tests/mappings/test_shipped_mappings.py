"""Every shipped mapping and sources file validates, offline, against the register.

This walks ``mappings/**/*.yaml``: a file with a top-level ``kind:`` is a mapping and
must load (schema, register categories, keys, relations); a file with ``sources:``
is a sources file and must load with its ``${VAR}`` set to placeholders, and every
mapping it names must load with the kind the source declares. A mapping added later
is covered without touching this test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from connectors import load_mapping
from discover.config import shipped_path
from discover.register import default_register
from discover.sources import load_sources

ROOT = shipped_path()
YAML_FILES = sorted(p for p in ROOT.rglob("*.yaml") if p.name != "register.yaml")


def _top_level(path: Path) -> dict:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) else {}


MAPPINGS = [p for p in YAML_FILES if "kind" in _top_level(p)]
SOURCES_FILES = [p for p in YAML_FILES if "sources" in _top_level(p)]


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_walk_finds_the_shipped_files() -> None:
    names = {_id(p) for p in MAPPINGS}
    assert {"demo/crm.yaml", "demo/telephony.yaml", "examples/fides-sample.yaml"} <= names
    assert "examples/fides-sample.sources.yaml" in {_id(p) for p in SOURCES_FILES}
    unclassified = [_id(p) for p in YAML_FILES if p not in MAPPINGS and p not in SOURCES_FILES]
    assert not unclassified, (
        f"shipped YAML that is neither a mapping nor a sources file: {unclassified}"
    )


@pytest.mark.parametrize("path", MAPPINGS, ids=_id)
def test_shipped_mapping_validates(path: Path) -> None:
    loaded = load_mapping(path, default_register())
    assert loaded.kind == _top_level(path)["kind"]
    assert loaded.model is not None


@pytest.mark.parametrize("path", SOURCES_FILES, ids=_id)
def test_shipped_sources_file_validates(path: Path) -> None:
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", path.read_text(encoding="utf-8")))
    config = load_sources(path, environ={name: f"placeholder-{name.lower()}" for name in names})
    assert config.sources
    for source in config.sources:
        loaded = load_mapping(source.mapping_path, default_register(), expected_kind=source.kind)
        assert loaded.model is not None


def _fields(document: dict) -> list[tuple[str, dict]]:
    """(place, entry) of every field a mapping declares, whatever its kind."""
    found: list[tuple[str, dict]] = []
    for table, spec in (document.get("tables") or {}).items():
        for name, entry in (spec.get("columns") or {}).items():
            found.append((f"tables.{table}.columns.{name}", entry or {}))
    for kind, spec in (document.get("entries") or {}).items():
        for name, entry in (spec.get("attributes") or {}).items():
            found.append((f"entries.{kind}.attributes.{name}", entry or {}))
    if isinstance(document.get("columns"), dict):
        for name, entry in document["columns"].items():
            found.append((f"columns.{name}", entry or {}))
    for part in ("handsets", "contacts"):
        for name, entry in ((document.get(part) or {}).get("fields") or {}).items():
            found.append((f"{part}.fields.{name}", entry or {}))
    return found


PROVIDER_MAPPINGS = [p for p in MAPPINGS if not _id(p).startswith("examples/")]


@pytest.mark.parametrize("path", PROVIDER_MAPPINGS, ids=_id)
def test_every_field_has_a_label_in_both_languages(path: Path) -> None:
    for place, entry in _fields(_top_level(path)):
        label = entry.get("label") or {}
        assert label.get("nl") and label.get("en"), f"{_id(path)}: {place}"


def test_origins_and_secret_kinds_of_the_shipped_mappings() -> None:
    register = default_register()
    origin: dict[str, str] = {}
    secret: dict[str, str] = {}
    for path in PROVIDER_MAPPINGS:
        loaded = load_mapping(path, register)
        document = _top_level(path)
        for place, entry in _fields(document):
            name = place.rsplit(".", 1)[-1]
            if "origin" in entry:
                origin[name] = entry["origin"]
            if entry.get("secret"):
                secret[name] = entry["secret"]
        assert loaded.model is not None
    for name in ("objectSid", "objectGUID", "whenCreated", "memberOf", "member", "sip_server"):
        assert origin[name] == "system", name
    for name in ("provisioning_url", "provisioning_user"):
        assert origin[name] == "system", name
    for name in ("charge_eur", "usage_percent"):
        assert origin[name] == "derived", name
    for name in ("sip_password", "puk", "codeword"):
        assert secret[name] == "subject", name
    for name in ("admin_password", "provisioning_password", "pppoe_password", "password_hash"):
        assert secret[name] == "system", name
    assert secret["userPassword"] == "system" and secret["unicodePwd"] == "system"
