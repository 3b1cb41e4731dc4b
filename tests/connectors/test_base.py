"""The shared scaffolding of connectors/base.py: types from the mapping, the wanted
index, verification, and a mapping that would search nothing."""

from __future__ import annotations

import pytest
from sql_support import connector

from connectors.base import (
    FieldValue,
    Record,
    mapping_fields,
    searchable_types,
    verify_fields,
    wanted_index,
)
from discover.errors import SourceError
from discover.identifiers import Identifier
from discover.mapping import FieldSpec


def test_a_mapping_without_searchable_fields_is_refused_naming_the_source() -> None:
    mapping = {
        "tables": {
            "notes": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": None,
                    "note": None,
                    "pin": {"secret": True},
                },
            }
        }
    }
    with pytest.raises(SourceError, match="no searchable identifier field") as caught:
        connector("sqlite://", mapping, name="notes-db")
    assert caught.value.source == "notes-db"


def test_identifier_types_come_from_every_searchable_field_of_the_model() -> None:
    email = FieldSpec("mail", "general.contact", identifier="email")
    secret = FieldSpec("pin", "general.contact", identifier="account", secret=True)
    other = FieldSpec("gsm", "general.contact", identifier="phone", third_party=True)
    plain = FieldSpec("note", "general.contact")
    model = {"tables": [{"fields": (email, secret)}, {"more": {"x": other, "y": plain}}]}
    assert set(mapping_fields(model)) == {email, secret, other, plain}
    # a third party's number is searched (the subject may be the other party); a secret never
    assert searchable_types(model) == {"email", "phone"}


def test_verification_keeps_only_values_that_normalise_to_a_wanted_one() -> None:
    spec = FieldSpec("mail", "general.contact", identifier="email")
    wanted = wanted_index([Identifier.parse("email", "Jan@Example.org")])
    exact = Record("t", "1", [FieldValue(spec, "jan@example.org")])
    spelled = Record("t", "2", [FieldValue(spec, " JAN@example.ORG ")])
    wider = Record("t", "3", [FieldValue(spec, "jan2@example.org")])
    for record in (exact, spelled, wider):
        verify_fields(record, wanted)
    assert [(m.field, m.exact) for m in exact.matches] == [("mail", True)]
    assert [(m.field, m.exact) for m in spelled.matches] == [("mail", False)]
    assert wider.matches == []


def test_loading_such_a_mapping_is_a_config_error_naming_the_file(tmp_path) -> None:
    from connectors import load_mapping
    from discover.errors import ConfigError
    from discover.register import default_register

    path = tmp_path / "notes.yaml"
    path.write_text(
        "version: 1\nkind: sql\ntables:\n  notes:\n    key: id\n    category: general.contact\n"
        "    columns: {id: null, note: null}\n",
        "utf-8",
    )
    with pytest.raises(ConfigError, match="would never be searched") as caught:
        load_mapping(path, default_register())
    assert "notes.yaml" in str(caught.value)
