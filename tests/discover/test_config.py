"""Reading input files and turning schema failures into messages people can act on."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from discover.config import load_schema, place, read_document, shipped_path, validate
from discover.errors import ConfigError

CRM = yaml.safe_load(shipped_path("demo", "crm.yaml").read_text(encoding="utf-8"))
SOURCES = {
    "version": 1,
    "sources": [{"name": "crm", "kind": "sql", "mapping": "crm.yaml", "connection": {"url": "x"}}],
}


def failure(document: Any, schema: str, file: str = "crm.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        validate(document, schema, file=file)
    return caught.value


def crm(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(CRM)
    contacts = document["tables"]["contacts"]
    for key, value in changes.items():
        if key.startswith("column_"):
            contacts["columns"][key.removeprefix("column_")] = value
        else:
            contacts[key] = value
    return document


def test_place_renders_json_paths() -> None:
    assert place(["tables", "contacts", "columns", "phone"]) == "tables.contacts.columns.phone"
    assert place(["sources", 2, "connection", "url"]) == "sources[2].connection.url"
    assert place([0, "a"]) == "[0].a"
    assert place([]) == ""


def test_valid_document_passes() -> None:
    validate(CRM, "mapping-sql.schema.json", file="crm.yaml")


def test_issue_example_enum_message() -> None:
    error = failure(crm(column_phone={"identifier": "fone"}), "mapping-sql.schema.json")
    assert str(error) == (
        "crm.yaml: tables.contacts.columns.phone.identifier: 'fone' is not one of "
        "['email', 'phone', 'mac', 'imei', 'iccid', 'imsi', 'ip', 'postcode', 'name', "
        "'username', 'account', 'extension']"
    )  # and no "[also: ... is not valid under any of the given schemas]" noise


def test_unexpected_key_is_named_with_a_suggestion() -> None:
    document = crm()
    document["tables"]["contacts"]["entitty"] = "person"
    error = failure(document, "mapping-sql.schema.json")
    assert error.place == "tables.contacts.entitty"
    assert error.message == (
        "unexpected key 'entitty' (did you mean 'entity'?); "
        "allowed here: table, schema, key, category, entity, columns"
    )


def test_misspelt_required_key() -> None:
    document = crm()
    document["tables"]["contacts"]["colums"] = document["tables"]["contacts"].pop("columns")
    error = failure(document, "mapping-sql.schema.json")
    assert error.place == "tables.contacts"
    assert error.message.startswith(
        "required key 'columns' is missing (is 'colums' a misspelling?) "
        "[also: tables.contacts.colums: unexpected key 'colums' (did you mean 'columns'?)"
    )


def test_unexpected_key_inside_a_field() -> None:
    error = failure(crm(column_phone={"identifer": "phone"}), "mapping-sql.schema.json")
    assert error.place == "tables.contacts.columns.phone.identifer"
    assert "did you mean 'identifier'?" in error.message


def test_several_unexpected_keys() -> None:
    document = copy.deepcopy(SOURCES)
    document["sources"][0].update(mapppng="x", colour="red")
    error = failure(document, "sources.schema.json", "sources.yaml")
    assert error.place == "sources[0]"
    assert error.message.startswith("unexpected keys 'mapppng' (did you mean 'mapping'?), 'colour'")


def test_one_of_failures_say_what_was_expected() -> None:
    error = failure(crm(key=5), "mapping-sql.schema.json")
    assert str(error) == (
        "crm.yaml: tables.contacts.key: 5 is not valid here: expected a column name, "
        "or a list of column names for a composite key"
    )
    error = failure(crm(column_phone="phone"), "mapping-sql.schema.json")
    assert error.place == "tables.contacts.columns.phone"
    assert "expected nothing ({} or empty) for a plain column, or a field with" in error.message


def test_one_of_picks_the_alternative_that_was_meant() -> None:
    error = failure(
        crm(column_phone={"identifier": "phone", "expand": "yes"}), "mapping-sql.schema.json"
    )
    assert (
        str(error) == "crm.yaml: tables.contacts.columns.phone.expand: 'yes' is not of type boolean"
    )


def test_pattern_failures_use_the_schema_description() -> None:
    error = failure(crm(category="Contact"), "mapping-sql.schema.json")
    assert error.place == "tables.contacts.category"
    assert "expected a register category id such as general.contact" in error.message
    document = crm()
    document["tables"]["my table"] = document["tables"].pop("contacts")
    error = failure(document, "mapping-sql.schema.json")
    assert error.place == "tables.my table"
    assert "expected a table name of letters, digits, _ and $" in error.message


def test_required_const_and_type_messages() -> None:
    document = crm()
    del document["tables"]["contacts"]["key"]
    assert str(failure(document, "mapping-sql.schema.json")) == (
        "crm.yaml: tables.contacts: required key 'key' is missing"
    )
    assert str(failure({**SOURCES, "version": 2}, "sources.schema.json", "sources.yaml")) == (
        "sources.yaml: version: expected 1, got 2"
    )
    assert str(failure([], "sources.schema.json", "sources.yaml")) == (
        "sources.yaml: (top): [] is not of type object"
    )


def test_several_errors_are_listed_once() -> None:
    document = crm(column_phone={"identifier": "fone"}, column_email={"identifier": "mail"})
    error = failure(document, "mapping-sql.schema.json")
    places = {
        "tables.contacts.columns.email.identifier",
        "tables.contacts.columns.phone.identifier",
    }
    assert error.place in places
    (other,) = places - {error.place}
    assert f"[also: {other}: " in error.message
    assert "not valid under any of the given schemas" not in error.message
    assert error.message.count("[also:") == 1


def test_many_errors_are_cut() -> None:
    document = crm(**{f"column_c{i}": {"identifier": f"x{i}"} for i in range(8)})
    error = failure(document, "mapping-sql.schema.json")
    assert "(and 4 more)" in error.message


def test_long_values_are_cut() -> None:
    error = failure(crm(key=["a" * 200, 5]), "mapping-sql.schema.json")
    assert len(str(error)) < 300


def test_unknown_schema() -> None:
    with pytest.raises(ConfigError, match="no such schema is shipped"):
        load_schema("nothing.schema.json")


# -- read_document --------------------------------------------------------------------


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text("version: 1\ntables:\n  contacts: {key: id\n  x: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_document(path, label="crm.yaml")
    error = caught.value
    assert error.file == "crm.yaml"
    assert error.place == "line 4 column 4"
    assert error.message.startswith("invalid YAML: ")


def test_yaml_tab_indentation(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text("version: 1\ntables:\n\tcontacts: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"crm\.yaml: line 3 column 1: invalid YAML"):
        read_document(path, label="crm.yaml")


def test_json_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"version": 1,\n "identifiers": [}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_document(path)
    assert caught.value.place == "line 2 column 18"
    assert caught.value.message.startswith("invalid JSON: ")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_document(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a file, found a directory"):
        read_document(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"version: 1\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_document(binary)


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("x: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_document(path)
