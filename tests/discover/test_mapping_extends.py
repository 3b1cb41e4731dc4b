"""Reusing mappings: ``extends`` with overrides, a sources file's per-source overrides,
and a tabular field found under its own name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

from connectors import load_mapping, load_mappings
from discover.config import shipped_path
from discover.engine import search
from discover.errors import ConfigError
from discover.mapping import merge_documents
from discover.register import default_register
from discover.request import build_request
from discover.sources import load_sources


def write(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")
    return path


def test_merge_maps_key_by_key_and_replaces_lists() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    assert merge_documents(base, {"a": {"y": [3]}, "c": 2}) == {
        "a": {"x": 1, "y": [3]},
        "b": 1,
        "c": 2,
    }
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}  # untouched


def test_extends_a_shipped_mapping_and_changes_two_things(tmp_path: Path) -> None:
    child = write(
        tmp_path / "north.yaml",
        {
            "extends": "shipped:voip/provisioning.yaml",
            "version": 1,
            "kind": "voip",
            "files": {"include": ["north/**"]},
            "scope": {"from": "none"},
        },
    )
    register = default_register()
    shipped = load_mapping(shipped_path("voip", "provisioning.yaml"), register).model
    model = load_mapping(child, register, expected_kind="voip").model
    assert model.include == ("north/**",)
    assert model.scope_from == "none"
    assert model.formats == shipped.formats  # everything else as shipped
    assert model.exclude == shipped.exclude


def test_extends_a_path_in_a_chain(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", {"extends": "shipped:alarm/keyholders.yaml"})
    child = write(tmp_path / "child.yaml", {"extends": "base.yaml", "read": {"header_row": 5}})
    model = load_mapping(child, default_register()).model
    assert model.read.header_row == 5
    assert model.read.sheets == (0,)


def test_a_circle_and_a_missing_base_are_named(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml"})
    with pytest.raises(ConfigError, match=r"a\.yaml: extends: .*circle \(a\.yaml -> b\.yaml"):
        load_mapping(tmp_path / "a.yaml", default_register())
    write(tmp_path / "c.yaml", {"extends": "nowhere.yaml", "version": 1})
    with pytest.raises(ConfigError, match=r"c\.yaml: extends: mapping file .*nowhere\.yaml"):
        load_mapping(tmp_path / "c.yaml", default_register())


def test_an_override_that_breaks_the_schema_is_reported(tmp_path: Path) -> None:
    child = write(tmp_path / "k.yaml", {"extends": "shipped:alarm/keyholders.yaml", "read": 3})
    with pytest.raises(ConfigError, match=r"k\.yaml: read"):
        load_mapping(child, default_register())


def _keyholders(path: Path, header_row: int, headers: list[str], sheet: str = "Blad1") -> None:
    book = Workbook()
    sheet_ = book.active
    sheet_.title = sheet
    for _ in range(header_row - 1):
        sheet_.append(["Sleutelhouders export"])
    sheet_.append(headers)
    sheet_.append(["OBJ-1", "Depot", "Havenweg 1", "1", "Jan de Vries", "jan@example.nl", "X-1"])
    book.save(path)


HEADERS = ["Object-ID", "Object", "Adres", "Volgorde", "keyholder_name", "E-mail", "Codewoord"]


def test_a_sources_file_overrides_read_settings_per_source(tmp_path: Path) -> None:
    _keyholders(tmp_path / "north.xlsx", 2, HEADERS)
    _keyholders(tmp_path / "south.xlsx", 4, HEADERS, sheet="Sleutels")
    mapping = "shipped:alarm/keyholders.yaml"
    sources = write(
        tmp_path / "sources.yaml",
        {
            "version": 1,
            "sources": [
                {
                    "name": "north",
                    "kind": "tabular",
                    "mapping": mapping,
                    "connection": {"path": "north.xlsx"},
                },
                {
                    "name": "south",
                    "kind": "tabular",
                    "mapping": mapping,
                    "connection": {"path": "south.xlsx"},
                    "override": {"read": {"header_row": 4, "sheets": "Sleutels"}},
                },
            ],
        },
    )
    config = load_sources(sources)
    models = load_mappings(config, default_register())
    assert models["north"].model.read.header_row == 2
    assert models["south"].model.read.header_row == 4
    result = search(build_request([("email", "jan@example.nl")]), config)
    found = {(h["source"], h["field"]) for h in result.hits.to_pylist()}
    # both found, and the column named after the field itself (keyholder_name) is read
    assert {("north", "keyholder_name"), ("south", "keyholder_name")} <= found
    assert not result.failed_sources


def test_an_override_of_an_unknown_part_is_refused(tmp_path: Path) -> None:
    sources = write(
        tmp_path / "sources.yaml",
        {
            "version": 1,
            "sources": [
                {
                    "name": "x",
                    "kind": "tabular",
                    "mapping": "shipped:alarm/keyholders.yaml",
                    "connection": {"path": "x.xlsx"},
                    "override": {"columns": {}},
                },
            ],
        },
    )
    with pytest.raises(ConfigError, match=r"sources\.yaml: sources\[0\]\.override\.columns"):
        load_sources(sources)
