"""Tabular mappings: schema and cross-reference errors name the file, the place and the
expectation; every shipped tabular mapping loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import load_mapping, load_mappings
from connectors.tabular.mapping import TabularMapping
from discover.config import shipped_path
from discover.errors import ConfigError
from discover.register import default_register

BASE: dict[str, Any] = {
    "version": 1,
    "kind": "tabular",
    "category": "mobile.sim",
    "columns": {"iccid": {"identifier": "iccid"}, "puk": {"secret": True}, "status": None},
}


def load(tmp_path: Path, **changes: Any) -> TabularMapping:
    document = {**BASE, **changes}
    path = tmp_path / "sims.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_mapping(path, default_register()).model


@pytest.mark.parametrize(
    ("changes", "place", "text"),
    [
        ({"columns": {"iccid": {"identifier": "icid"}}}, "columns.iccid.identifier", "icid"),
        ({"category": "mobile.simcard"}, "category", "not a register category"),
        ({"key": "puk"}, "key", "a secret column cannot be the row key"),
        ({"key": "msisdn"}, "key", "field 'msisdn' is not among the mapped columns"),
        ({"headers": {"msisdn": "MSISDN"}}, "headers.msisdn", "not among the mapped columns"),
        (
            {"columns": {"pin": {"secret": True, "identifier": "account"}}},
            "columns.pin",
            "a secret column cannot also be searched",
        ),
        (
            {"relations": [{"same": "object", "third_party": True}]},
            "relations[0].same",
            "field 'object' is not among the mapped columns",
        ),
        (
            {"relations": [{"same": "puk", "third_party": True}]},
            "relations[0].same",
            "rows cannot be related by a secret",
        ),
        (
            {"lifecycle": {"field": "state", "retired": ["x"]}},
            "lifecycle.field",
            "not among the mapped columns",
        ),
        ({"lifecycle": {"field": "status", "retired": []}}, "lifecycle.retired", ""),
        ({"scope": {"from": "column"}}, "scope.field", "scope from: column needs a field"),
        ({"read": {"header_row": 0}}, "read.header_row", ""),
        ({"read": {"encoding": "ebcdic"}}, "read.encoding", ""),
        ({"read": {"sheets": -1}}, "read.sheets", ""),
        ({"columns": {"iccid": {"identifier": "iccid", "header": "ICCID"}}}, "columns.iccid", ""),
        ({"tables": {}}, "tables", "unexpected key 'tables'"),
    ],
)
def test_malformed_mapping_names_the_place(
    tmp_path: Path, changes: dict[str, Any], place: str, text: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, **changes)
    message = str(raised.value)
    assert message.startswith(f"sims.yaml: {place}"), message
    assert text in message


def test_defaults_and_header_forms(tmp_path: Path) -> None:
    mapping = load(
        tmp_path,
        headers={"iccid": "SIM-nummer", "puk": ["PUK", "PUK1"], "status": {"optional": True}},
    )
    assert mapping.read.header_row == 1 and mapping.read.sheets == (0,)
    assert mapping.headers["iccid"].names == ("SIM-nummer", "iccid")  # its own name too
    assert mapping.headers["puk"].names == ("PUK", "PUK1")
    assert mapping.headers["status"].names == ("status",) and mapping.headers["status"].optional
    assert mapping.key is None and mapping.entity == "person"
    assert [spec.name for spec in mapping.searchable] == ["iccid"]


SHIPPED = [
    "mobile/sim-inventory.yaml",
    "mobile/roaming-notifications.yaml",
    "mobile/bundle-notifications.yaml",
    "alarm/keyholders.yaml",
    "voip/device-inventory.yaml",
]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_tabular_mappings_load(name: str) -> None:
    loaded = load_mapping(shipped_path(*name.split("/")), default_register())
    assert loaded.kind == "tabular"
    model = loaded.model
    secrets = {spec.name for spec in model.columns.values() if spec.secret}
    expected = {
        "mobile/sim-inventory.yaml": {"puk"},
        "alarm/keyholders.yaml": {"codeword"},
    }.get(name, set())
    assert secrets == expected


def test_shipped_mappings_model_whose_data_it_is() -> None:
    register = default_register()
    sims = load_mapping(shipped_path("mobile", "sim-inventory.yaml"), register).model
    assert sims.lifecycle is not None and sims.lifecycle.recycled == frozenset({"phone"})
    keyholders = load_mapping(shipped_path("alarm", "keyholders.yaml"), register).model
    assert [(r.same, r.third_party) for r in keyholders.relations] == [(("object_id",), True)]
    devices = load_mapping(shipped_path("voip", "device-inventory.yaml"), register).model
    assert (devices.scope.source, devices.scope.field) == ("column", "pbx")
    assert devices.columns["last_ip"].expandable is False


@pytest.mark.parametrize(
    ("sources", "variables"),
    [
        ("mobile/mobile.sources.yaml", ("MOBILE_INVENTORY", "ROAMING_LOG", "BUNDLE_LOG")),
        ("alarm/keyholders.sources.yaml", ("ALARM_KEYHOLDERS",)),
        ("voip/device-inventory.sources.yaml", ("DEVICE_INVENTORY",)),
    ],
)
def test_example_sources_take_paths_from_the_environment(
    sources: str, variables: tuple[str, ...]
) -> None:
    from discover.sources import load_sources

    path = shipped_path(*sources.split("/"))
    environ = {name: f"/data/{name.lower()}.csv" for name in variables}
    loaded = load_sources(path, environ=environ)
    assert sorted(s.connection["path"] for s in loaded.sources) == sorted(environ.values())
    assert all(s.kind == "tabular" for s in loaded.sources)
    load_mappings(loaded, default_register())
    missing = dict(environ)
    missing.pop(variables[0])
    with pytest.raises(ConfigError, match=f"environment variable {variables[0]} is not set"):
        load_sources(path, environ=missing)
