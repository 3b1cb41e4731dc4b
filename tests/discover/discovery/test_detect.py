"""Recognising personal data by content: check digits, the eleven-test, masking."""

from __future__ import annotations

import pytest

from discover.discovery.detect import detect, header_type, mask, value_type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jan.devries@acme-logistiek.nl", "email"),
        ("+31 6 12345678", "phone"),
        ("010-2345201", "phone"),
        ("00:15:65:AB:CD:01", "mac"),
        ("001565abcd01", "mac"),
        ("352099001761481", "imei"),  # Luhn check digit 1
        ("8931041012345678902", "iccid"),
        ("204041234567890", "imsi"),
        ("192.0.2.10", "ip"),
        ("2001:db8::1", "ip"),
        ("2289 BA", "postcode"),
        ("NL91ABNA0417164300", "iban"),
        ("111222333", "bsn"),
        ("hello world", None),
        ("2026-01-05", None),
        ("1001", None),
    ],
)
def test_value_types(value: str, expected: str | None) -> None:
    assert value_type(value) == expected


def test_a_wrong_check_digit_is_not_an_imei_nor_a_bsn() -> None:
    assert value_type("352099001761480") != "imei"
    assert value_type("111222334") != "bsn"


def test_a_column_of_bsns_is_special_and_masked() -> None:
    found = detect("klant_id", ["111222333", "123456782", "", None])
    assert found is not None
    assert (found.type, found.special, found.by) == ("bsn", True, "content")
    assert found.confidence == 1.0
    assert all("111222333" not in e and "123456782" not in e for e in found.examples)


def test_nine_digit_mobile_numbers_stay_phone_numbers() -> None:
    # about one in eleven passes the eleven-test by chance: the column is still phones
    mobiles = [f"6{n:08d}" for n in range(12345678, 12345678 + 40 * 7919, 7919)]
    assert detect("msisdn", mobiles).type == "phone"


def test_a_column_is_of_a_type_when_most_values_are() -> None:
    assert detect("x", ["a@example.org", "b@example.org", "n/a"]).type == "email"
    assert detect("x", ["a@example.org", "none", "n/a", "-"]) is None


def test_names_are_recognised_by_their_header_only() -> None:
    assert header_type("Achternaam") == "name"
    assert header_type("display_name") == "name"
    assert header_type("hostname") is None
    found = detect("Naam", ["Jan de Vries", "Zoë Çelik"])
    assert (found.type, found.by) == ("name", "header")
    assert detect("notes", ["Jan de Vries", "Zoë Çelik"]) is None


@pytest.mark.parametrize(
    "value", ["jan.devries@acme-logistiek.nl", "+31612345678", "352099001761481", "Jan de Vries"]
)
def test_masking_hides_the_value(value: str) -> None:
    shown = mask(value)
    assert shown != value
    assert "*" in shown
    assert sum(c.isalnum() for c in shown) <= sum(c.isalnum() for c in value) / 2 + 1
