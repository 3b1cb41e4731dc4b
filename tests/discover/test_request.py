"""Requests: the file format, normalisation up front, and errors that name the place."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from discover.config import validate
from discover.errors import ConfigError
from discover.identifiers import Identifier
from discover.request import (
    build_request,
    check_request_id,
    load_request,
    new_request_id,
    request_from_document,
)


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": 1,
        "request_id": "REQ-2026-0001",
        "kind": "access",
        "received": "2026-11-20",
        "language": "en",
        "controller": "all",
        "client": "Acme Logistiek B.V.",
        "subject_name": "Jan de Vries",
        "identifiers": [
            {"type": "email", "value": "Jan.DeVries@Acme-Logistiek.NL"},
            {"type": "phone", "value": "06-1234 5678"},
        ],
    }
    base.update(changes)
    return base


def failure(doc: Any, file: str = "request.json") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        request_from_document(doc, file=file)
    return caught.value


def test_request_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document()), encoding="utf-8")
    request = load_request(path)
    assert request.request_id == "REQ-2026-0001"
    assert request.received == date(2026, 11, 20)
    assert request.language == "en"
    assert request.identifiers == (
        Identifier("email", "jan.devries@acme-logistiek.nl"),
        Identifier("phone", "+31612345678"),
    )
    written = request.to_document()
    validate(written, "request.schema.json", file="request.json")
    # the case keeps the identifiers as they were given
    assert written["identifiers"][1] == {"type": "phone", "value": "06-1234 5678"}
    assert request_from_document(written, file="request.json") == request


def test_yaml_request_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "request.yaml"
    path.write_text(
        "version: 1\nidentifiers:\n  - {type: imei, value: '35-209900-176148-1'}\n",
        encoding="utf-8",
    )
    request = load_request(path)
    assert request.kind == "access" and request.controller == "all" and request.language == "nl"
    assert re.fullmatch(r"REQ-\d{8}-[0-9a-f]{6}", request.request_id)
    assert request.identifiers == (Identifier("imei", "352099001761481"),)


def test_strict_refuses_a_malformed_identifier_naming_its_place() -> None:
    doc = document(
        identifiers=[
            {"type": "email", "value": "jan@example.nl"},
            {"type": "imei", "value": "352099001761480"},
        ]
    )
    with pytest.raises(ConfigError) as caught:
        request_from_document(doc, file="request.json", strict=True)
    assert str(caught.value) == (
        "request.json: identifiers[1].value: IMEI 352099001761480: check digit should be 1"
    )


def test_a_malformed_identifier_is_rejected_and_the_rest_searched() -> None:
    doc = document(
        identifiers=[
            {"type": "email", "value": "jan@example.nl"},
            {"type": "phone", "value": "06-123 45"},
        ]
    )
    request = request_from_document(doc, file="request.json")
    assert request.identifiers == (Identifier("email", "jan@example.nl"),)
    [rejected] = request.rejected
    assert rejected.place == "identifiers[1].value" and rejected.value == "06-123 45"
    assert "not a valid phone number" in rejected.reason
    written = request.to_document()
    validate(written, "request.schema.json", file="request.json")
    assert written["identifiers"] == [{"type": "email", "value": "jan@example.nl"}]
    assert written["rejected_identifiers"][0]["place"] == "identifiers[1].value"
    # a case's request.json reads back to the same request, rejection included
    assert request_from_document(written, file="request.json") == request


def test_a_request_without_a_usable_identifier_is_refused() -> None:
    error = failure(document(identifiers=[{"type": "phone", "value": "06-123 45"}]))
    assert error.place == "identifiers"
    assert "no usable identifier (identifiers[0].value: phone number 06-123 45" in error.message


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u2066", "\ufeff", "\u00ad"])
@pytest.mark.parametrize(
    ("kind", "value"),
    [("email", "jan@exa{}mple.nl"), ("phone", "06-1234{}5678"), ("name", "Jan{} de Vries")],
)
def test_invisible_characters_are_refused_for_every_type(kind: str, value: str, char: str) -> None:
    doc = document(
        identifiers=[
            {"type": "email", "value": "jan@example.nl"},
            {"type": kind, "value": value.format(char)},
        ]
    )
    [rejected] = request_from_document(doc, file="request.json").rejected
    assert f"invisible character U+{ord(char):04X}" in rejected.reason
    assert char not in rejected.value  # shown escaped, never as the character itself
    assert f"\\u{ord(char):04x}" in rejected.value


def test_a_request_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document()).encode("utf-8"))
    assert load_request(path).request_id == "REQ-2026-0001"
    yaml_path = tmp_path / "request.yaml"
    yaml_path.write_bytes(b"\xef\xbb\xbfversion: 1\nidentifiers: [{type: email, value: a@b.nl}]\n")
    assert load_request(yaml_path).identifiers == (Identifier("email", "a@b.nl"),)


def test_a_deeply_nested_request_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"version": 1, "note": ' + "[" * 100000 + "]" * 100000 + "}", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_request(path)
    assert caught.value.place == "line 1 column 43"  # the 21st opening bracket
    assert "nested deeper than 20 levels" in caught.value.message
    shallow = document(note=None, identifiers=[{"type": "email", "value": "a@b.nl"}])
    nested: Any = "x"
    for _ in range(30):
        nested = {"k": nested}
    shallow["note"] = nested
    error = failure(shallow)
    assert error.place.startswith("note.k.k.k") and "nested deeper" in error.message


@pytest.mark.parametrize(
    ("value", "assumed"),
    [
        (
            "35209900176148",
            "read as an IMEI without its check digit and searched as 352099001761481",
        ),
        ("3520990017614823", "read as an IMEISV (software version 23)"),
    ],
)
def test_what_an_imei_reading_assumed_is_said(value: str, assumed: str) -> None:
    request = request_from_document(
        document(identifiers=[{"type": "imei", "value": value}]), file="request.json"
    )
    assert request.identifiers == (Identifier("imei", "352099001761481"),)
    assert any(assumed in note for note in request.notes)


def test_an_imsi_of_an_unknown_country_is_refused_one_of_14_digits_noted() -> None:
    doc = document(
        identifiers=[
            {"type": "imsi", "value": "99904123456789"},
            {"type": "imsi", "value": "20404123456789"},
        ]
    )
    request = request_from_document(doc, file="request.json")
    assert "mobile country code 999 is not assigned" in request.rejected[0].reason
    assert request.notes == ("IMSI 20404123456789 has 14 digits (usually 15): searched as given",)


def test_unknown_identifier_type() -> None:
    error = failure(document(identifiers=[{"type": "fone", "value": "0612345678"}]))
    assert error.place == "identifiers[0].type"
    assert error.message.startswith("'fone' is not one of ['email', 'phone'")


@pytest.mark.parametrize("request_id", ["REQ 1", "../../etc", "-REQ", "R" * 81, "REQ/1", ""])
def test_request_id_pattern(request_id: str) -> None:
    error = failure(document(request_id=request_id))
    assert error.place == "request_id"
    assert "expected a request id of letters, digits, '_', '.' and '-'" in error.message


def test_request_id_checked_when_built_in_code() -> None:
    with pytest.raises(ConfigError, match=r"^request: request_id: '\.\./x' is not a request id"):
        build_request([("email", "a@example.nl")], request_id="../x")
    check_request_id("REQ-2026-0001.a_b", file="f", where="w")


def test_no_identifiers() -> None:
    assert (
        str(failure(document(identifiers=[])))
        == "request.json: identifiers: [] should be non-empty"
    )
    with pytest.raises(ConfigError, match="at least one identifier is needed"):
        build_request([])


def test_bad_received_date() -> None:
    error = failure(document(received="2026-13-01"))
    assert str(error) == "request.json: received: '2026-13-01' is not a date (YYYY-MM-DD)"
    error = failure(document(received="20 november"))
    assert error.place == "received"


@pytest.mark.parametrize(
    ("changes", "place"),
    [
        ({"version": 2}, "version"),
        ({"kind": "erasure"}, "kind"),
        ({"controller": "me"}, "controller"),
        ({"language": "de"}, "language"),
        ({"identifiers": [{"type": "email"}]}, "identifiers[0]"),
        (
            {"identifiers": [{"type": "email", "value": "a@b.nl", "note": "x"}]},
            "identifiers[0].note",
        ),
        ({"subject": "Jan"}, "subject"),
    ],
)
def test_malformed_requests(changes: dict[str, Any], place: str) -> None:
    assert failure(document(**changes)).place == place


def test_not_an_object() -> None:
    assert str(failure(["email"])) == "request.json: (top): ['email'] is not of type object"


def test_duplicates_collapse_after_normalisation() -> None:
    request = build_request([("phone", "06-12345678"), ("phone", "+31 6 1234 5678")])
    assert request.identifiers == (Identifier("phone", "+31612345678"),)


def test_new_request_id() -> None:
    assert new_request_id(date(2026, 11, 28)).startswith("REQ-20261128-")
    assert new_request_id() != new_request_id()
