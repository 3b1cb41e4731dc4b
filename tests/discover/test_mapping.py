"""Mappings: field semantics, and malformed mappings named by file, place and expectation."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import load_mapping
from discover.config import shipped_path
from discover.errors import ConfigError
from discover.mapping import FieldSpec, check_category, field_spec
from discover.register import default_register

CRM = yaml.safe_load(shipped_path("demo", "crm.yaml").read_text(encoding="utf-8"))


def write(folder: Path, document: Any, name: str = "crm.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def failure(folder: Path, document: Any, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_mapping(write(folder, document), default_register(), **kwargs)
    return caught.value


def crm() -> dict[str, Any]:
    return copy.deepcopy(CRM)


# -- field semantics ------------------------------------------------------------------


def test_field_spec_defaults_and_semantics() -> None:
    register = default_register()
    spec = field_spec(
        "email",
        {"identifier": "email"},
        default_category="general.contact",
        register=register,
        file="crm.yaml",
        where="tables.contacts.columns.email",
    )
    assert spec == FieldSpec(name="email", category="general.contact", identifier="email")
    assert spec.searchable and spec.expandable
    plain = field_spec(
        "id",
        None,
        default_category="general.contact",
        register=register,
        file="crm.yaml",
        where="x",
    )
    assert plain.identifier is None and not plain.searchable and not plain.expandable


@pytest.mark.parametrize(
    ("spec", "searchable", "expandable"),
    [
        (FieldSpec("e", "general.contact", identifier="email"), True, True),
        (FieldSpec("e", "general.contact", identifier="email", expand=False), True, False),
        # another person's field is searched (the subject may be the other party) but
        # never feeds expansion
        (FieldSpec("e", "usage.calls", identifier="phone", third_party=True), True, False),
        (FieldSpec("n", "general.contact", identifier="name"), True, False),  # weak
        (FieldSpec("p", "general.contact", identifier="postcode"), True, False),  # weak
        (FieldSpec("s", "general.contact", secret=True), False, False),
        (FieldSpec("d", "general.contact", recorded_at=True), False, False),
    ],
)
def test_searchable_and_expandable(spec: FieldSpec, searchable: bool, expandable: bool) -> None:
    assert spec.searchable is searchable
    assert spec.expandable is expandable


def test_check_category_lists_the_known_ids() -> None:
    with pytest.raises(ConfigError) as caught:
        check_category("general.contacts", default_register(), file="crm.yaml", where="w")
    assert caught.value.message.startswith(
        "'general.contacts' is not a register category (one of alarm.keyholder, "
    )


def test_loads_the_demo_mapping(tmp_path: Path) -> None:
    loaded = load_mapping(write(tmp_path, crm()), default_register())
    assert loaded.kind == "sql"
    assert loaded.file == "crm.yaml"
    contacts = loaded.model.tables["contacts"]
    assert contacts.key == ("id",)
    assert contacts.columns["email"].identifier == "email"
    assert contacts.columns["created_at"].recorded_at
    organisations = loaded.model.tables["organisations"]
    assert organisations.entity == "organisation"
    assert organisations.columns["switchboard"].category == "general.contact"
    assert not organisations.columns["switchboard"].expandable
    assert organisations.columns["street"].category == "general.service_address"  # default
    assert loaded.model.tables["internet_lines"].columns["pppoe_password"].secret
    follows = {(r.from_table, r.to_table, r.follow) for r in loaded.model.relations}
    assert ("contacts", "organisations", "forward") in follows
    # the fields that name a record's client: the organisation's name, its number elsewhere
    clients = {
        (table, name)
        for table, spec in loaded.model.tables.items()
        for name, column in spec.columns.items()
        if column.client
    }
    assert clients == {
        ("organisations", "name"),
        ("contacts", "organisation_id"),
        ("internet_lines", "organisation_id"),
    }


# -- malformed mappings ---------------------------------------------------------------


def test_issue_example(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["contacts"]["columns"]["phone"] = {"identifier": "fone"}
    error = failure(tmp_path, document)
    assert str(error).startswith(
        "crm.yaml: tables.contacts.columns.phone.identifier: 'fone' is not one of "
        "['email', 'phone', 'mac',"
    )


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (2, "expected 1 (mapping format v1), got 2"),
        ("1", "expected 1 (mapping format v1), got '1'"),
        (None, "expected 1 (mapping format v1), got None"),
    ],
)
def test_wrong_version(tmp_path: Path, version: Any, message: str) -> None:
    document = crm()
    if version is None:
        del document["version"]
    else:
        document["version"] = version
    assert str(failure(tmp_path, document)) == f"crm.yaml: version: {message}"


def test_unknown_kind(tmp_path: Path) -> None:
    document = crm()
    document["kind"] = "oracle"
    error = failure(tmp_path, document)
    assert error.place == "kind"
    assert error.message.startswith("'oracle' is not a connector kind (one of ")
    assert "sql" in error.message


def test_missing_kind(tmp_path: Path) -> None:
    document = crm()
    del document["kind"]
    error = failure(tmp_path, document)
    assert error.place == "kind"
    assert error.message.startswith("required key 'kind' is missing (one of ")


def test_kind_differs_from_the_source(tmp_path: Path) -> None:
    error = failure(tmp_path, crm(), expected_kind="tabular")
    assert str(error) == "crm.yaml: kind: this source is of kind 'tabular', the mapping is 'sql'"


def test_not_a_mapping(tmp_path: Path) -> None:
    error = failure(tmp_path, ["tables"])
    assert error.place == "(top)"
    assert "expected a mapping with version, kind and its sections" in error.message


def test_unknown_category(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["contacts"]["columns"]["email"]["category"] = "general.emails"
    error = failure(tmp_path, document)
    assert error.place == "tables.contacts.columns.email.category"
    assert error.message.startswith("'general.emails' is not a register category (one of ")


def test_unknown_table_category(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["contacts"]["category"] = "crm.contacts"
    error = failure(tmp_path, document)
    assert error.place == "tables.contacts.category"
    assert "is not a register category" in error.message


def test_key_column_not_mapped(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["contacts"]["key"] = ["id", "contact_no"]
    error = failure(tmp_path, document)
    assert str(error) == (
        "crm.yaml: tables.contacts.key: key column 'contact_no' is not among the mapped columns"
    )


def test_relation_to_an_unmapped_table(tmp_path: Path) -> None:
    document = crm()
    document["relations"].append(
        {"from": "orders.contact_id", "to": "contacts.id", "follow": "backward"}
    )
    error = failure(tmp_path, document)
    index = len(document["relations"]) - 1
    assert str(error) == f"crm.yaml: relations[{index}].from: table 'orders' is not mapped"


def test_relation_to_an_unmapped_column(tmp_path: Path) -> None:
    document = crm()
    document["relations"][0]["to"] = "organisations.uuid"
    error = failure(tmp_path, document)
    assert str(error) == (
        "crm.yaml: relations[0].to: column 'uuid' is not mapped in 'organisations'"
    )


def test_relation_follow_must_be_declared(tmp_path: Path) -> None:
    document = crm()
    del document["relations"][0]["follow"]
    error = failure(tmp_path, document)
    assert str(error) == "crm.yaml: relations[0]: required key 'follow' is missing"
    document["relations"][0]["follow"] = "up"
    error = failure(tmp_path, document)
    assert error.message == "'up' is not one of ['forward', 'backward', 'both']"


def test_secret_cannot_be_an_identifier(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["contacts"]["columns"]["email"]["secret"] = True
    error = failure(tmp_path, document)
    assert error.place == "tables.contacts.columns.email"
    assert "a secret column cannot also be searched as an identifier" in error.message


def test_a_secret_cannot_name_a_client(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["internet_lines"]["columns"]["pppoe_password"]["client"] = True
    error = failure(tmp_path, document)
    assert error.place == "tables.internet_lines.columns.pppoe_password.client"
    assert "cannot name a client" in error.message


def test_client_must_be_a_boolean(tmp_path: Path) -> None:
    document = crm()
    document["tables"]["contacts"]["columns"]["organisation_id"]["client"] = "yes"
    error = failure(tmp_path, document)
    assert error.place == "tables.contacts.columns.organisation_id.client"


def test_no_credentials_in_a_mapping(tmp_path: Path) -> None:
    document = crm()
    document["connection"] = {"url": "postgresql://crm:hunter2@db/crm"}
    error = failure(tmp_path, document)
    assert error.place == "connection"
    assert error.message.startswith("unexpected key 'connection'")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text("version: 1\nkind: sql\ntables:\n  contacts: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path, default_register())
    assert caught.value.file == "crm.yaml"
    assert caught.value.place == "line 5 column 1"
    assert caught.value.message.startswith("invalid YAML")


def test_secret_kinds_and_origins_of_a_field() -> None:
    from discover.errors import ConfigError
    from discover.mapping import field_spec
    from discover.register import default_register

    register = default_register()

    def spec(raw: dict) -> object:  # type: ignore[type-arg]
        return field_spec(
            "f",
            raw,
            default_category="general.contact",
            register=register,
            file="m.yaml",
            where="columns.f",
        )

    assert spec({"secret": "subject"}).secret_kind == "subject"  # type: ignore[attr-defined]
    assert spec({"secret": "system"}).secret is True  # type: ignore[attr-defined]
    # `secret: true` is the documented alias of `system`: never offered
    assert spec({"secret": True}).secret_kind == "system"  # type: ignore[attr-defined]
    assert spec({}).secret_kind is None and spec({}).origin is None  # type: ignore[attr-defined]
    assert spec({"origin": "derived"}).origin == "derived"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"columns\.f\.origin"):
        spec({"origin": "guessed"})
    with pytest.raises(ConfigError, match=r"columns\.f\.secret"):
        spec({"secret": "maybe"})


def test_a_file_reference_never_leaves_its_base_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from discover.mapping import resolve_file

    base = tmp_path / "recordings"
    (base / "a").mkdir(parents=True)
    (base / "a" / "1.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.txt").write_text("x")
    (base / "link.wav").symlink_to(tmp_path / "secret.txt")
    assert resolve_file(tmp_path, "recordings", "a/1.wav") == str(base / "a" / "1.wav")
    assert resolve_file(tmp_path, "recordings", "../secret.txt") is None
    assert resolve_file(tmp_path, "recordings", "link.wav") is None  # a link out of it
    assert resolve_file(tmp_path, "recordings", "a") is None  # not a regular file
    assert resolve_file(tmp_path, "recordings", "missing.wav") is None
    assert resolve_file(tmp_path, "recordings", None) is None
    monkeypatch.setenv("RECORDINGS_DIR", str(base))
    assert resolve_file(Path("/"), "${RECORDINGS_DIR:-nowhere}", "a/1.wav") == str(
        base / "a" / "1.wav"
    )
