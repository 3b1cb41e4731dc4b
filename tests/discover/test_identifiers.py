"""Identifiers: every type's normalisation, its error messages, and property tests.

The examples of issue 2 are checked literally. The property tests (hypothesis)
render one identifier in many surface formats and assert that all of them
normalise to one value, and that two different identifiers never do.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from discover.errors import InvalidIdentifier
from discover.identifiers import (
    IDENTIFIER_TYPES,
    MAX_LENGTH,
    Identifier,
    assumptions,
    fold_text,
    normalise,
    normalise_all,
    surface_forms,
    try_normalise,
)


def error_of(kind: str, raw: str) -> str:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(kind, raw)
    return str(caught.value)


# -- phone ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "06-12345678",
        "0031 6 1234 5678",
        "+31 (0)6 12345678",
        "31612345678",
        "+31612345678",
        "06 1234 5678",
        "(06) 1234-5678",
        "612345678",  # a spreadsheet dropped the leading zero
        "+0031612345678",
        "0031(0)612345678",
        "tel:+31-6-12345678",
        "sip:+31612345678@pbx.example;user=phone",
        "06.12.34.56.78",
        "06-12345678\n",  # surrounding white space goes
    ],
)
def test_phone_issue_examples_are_one_number(raw: str) -> None:
    assert normalise("phone", raw) == "+31612345678"


@pytest.mark.parametrize("raw", ["088-7777 900", "088 - 7777 900", "+31887777900", "31887777900"])
def test_phone_company_number(raw: str) -> None:
    assert normalise("phone", raw) == "+31887777900"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0000", "+442079460000"),
        ("0044 20 7946 0000", "+442079460000"),
        ("442079460000", "+442079460000"),  # switch format of a foreign number
        ("+1 202 555 0143", "+12025550143"),
        ("010-2345678", "+31102345678"),
    ],
)
def test_phone_other_numbers(raw: str, expected: str) -> None:
    assert normalise("phone", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12345",  # too short to be a Dutch number
        "10.0.0.1",  # an IP address in a phone column
        "2021-01-06 01:00:00",  # a date
        "00000000",
        "0316 12345678",  # too long for a Dutch number
        "+31 10001",  # +31 is ours: the number must be valid, not just possible
        "hello 0612345678 world",
        "not a number",
        "0" * 40,
        "06" + "1" * 300,
    ],
)
def test_phone_garbage_is_refused(raw: str) -> None:
    assert try_normalise("phone", raw) is None
    assert "phone number" in error_of("phone", raw)


def test_phone_messages_say_why() -> None:
    assert error_of("phone", "abc") == "phone number abc: holds no digits"
    assert error_of("phone", "12345") == "phone number 12345: not a valid phone number (region NL)"
    assert "more than a number" in error_of("phone", "1" * 20)


# -- MAC ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "00:15:65:AB:CD:EF",
        "00:15:65:ab:cd:ef",
        "00-15-65-AB-CD-EF",
        "0015.65ab.cdef",
        "0015.65AB.CDEF",
        "001565:abcdef",
        "001565abcdef",
        "001565ABCDEF",
        "0:15:65:ab:cd:ef",  # leading zeros dropped, as some firmware prints it
        "00 15 65 ab cd ef",
        " 00:15:65:ab:cd:ef ",
    ],
)
def test_mac_every_notation(raw: str) -> None:
    assert normalise("mac", raw) == "001565abcdef"


@pytest.mark.parametrize(
    "raw",
    [
        "12",  # netaddr alone reads integers as MAC addresses
        "1234",
        "00:15:65:ab:cd",  # five groups
        "00:15:65:ab:cd:ef:00:11",  # EUI-64
        "00:15-65:ab:cd:ef",  # mixed separators
        "00:15:65:ab:cd:eg",
        "0015.65ab.cde",
        "001565abcdef0",
    ],
)
def test_mac_refuses_other_shapes(raw: str) -> None:
    assert try_normalise("mac", raw) is None
    assert error_of("mac", raw).endswith("not a MAC address in any known notation")


# -- IMEI, ICCID, IMSI ----------------------------------------------------------------


def test_imei_bad_check_digit_message_matches_the_issue() -> None:
    assert error_of("imei", "352099001761480") == "IMEI 352099001761480: check digit should be 1"


@pytest.mark.parametrize(
    "raw",
    [
        "352099001761481",
        "35-209900-176148-1",
        "35 209900 176148 1",
        "35209900176148",  # without its check digit
        "3520990017614823",  # IMEISV: software version 23
        "35-209900-176148-00",
    ],
)
def test_imei_and_imeisv(raw: str) -> None:
    assert normalise("imei", raw) == "352099001761481"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("3520990017614", "expected 14, 15 or 16 digits, got 13"),
        ("35209900176148123", "expected 14, 15 or 16 digits, got 17"),
        ("35209900A761481", "expected digits only"),
    ],
)
def test_imei_errors(raw: str, reason: str) -> None:
    assert error_of("imei", raw) == f"IMEI {raw}: {reason}"


ICCID = "8931041012345678902"


@pytest.mark.parametrize(
    "raw", [ICCID, "8931 0410 1234 5678 902", "8931-0410-1234-5678-902", ICCID + "F", ICCID + "f"]
)
def test_iccid_luhn_checked(raw: str) -> None:
    assert normalise("iccid", raw) == ICCID


def test_iccid_errors() -> None:
    wrong = ICCID[:-1] + "3"
    assert error_of("iccid", wrong) == f"ICCID {wrong}: check digit should be 2"
    assert error_of("iccid", "9931041012345678902").endswith("expected the telecom prefix 89")
    assert error_of("iccid", "89310410123").endswith("expected 18 to 22 digits, got 11")
    assert error_of("iccid", "89310410X2345678902").endswith("expected digits only")
    body = "89310410123456789012"
    assert normalise("iccid", body + luhn.calc_check_digit(body)) == body + luhn.calc_check_digit(
        body
    )


def test_imsi() -> None:
    assert normalise("imsi", "204041234567890") == "204041234567890"
    assert normalise("imsi", "204 04 1234567890") == "204041234567890"
    assert "invalid length" in error_of("imsi", "2040412")
    assert error_of("imsi", "20404123456789X").endswith("expected digits only")


# -- IP -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("192.000.002.010", "192.0.2.10"),  # leading zeros read as decimal
        ("::ffff:192.0.2.10", "192.0.2.10"),  # IPv4-mapped
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),  # the zone names an interface, not the address
        ("fe80::1%3", "fe80::1"),
    ],
)
def test_ip(raw: str, expected: str) -> None:
    assert normalise("ip", raw) == expected


@pytest.mark.parametrize("raw", ["999.1.1.1", "1.2.3", "192.0.2.0/24", "2001:db8::g", "host"])
def test_ip_errors(raw: str) -> None:
    assert error_of("ip", raw).endswith("not an IPv4 or IPv6 address")


# -- postcode -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["2289 BA", "2289BA", "2289ba", " 2289  ba ", "2289-BA"])
def test_postcode(raw: str) -> None:
    assert normalise("postcode", raw) == "2289BA"


@pytest.mark.parametrize("raw", ["0999 AA", "2289 SA", "228 BA", "ABCD 12"])
def test_postcode_errors(raw: str) -> None:
    assert error_of("postcode", raw).endswith("expected a Dutch postcode like 2289 BA")


# -- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "Jan de Vries",
        "JAN DE VRIES",
        "jan de vries",
        "Vries, Jan de",
        "  Jan   de  Vries ",
        "Jan de Vriés",
        "Ján dé Vríes",
        "Jan de Vries.",
    ],
)
def test_name_folded_particles_kept(raw: str) -> None:
    assert normalise("name", raw) == "jan de vries"


def test_name_particles_are_not_dropped() -> None:
    assert normalise("name", "Jan Vries") != normalise("name", "Jan de Vries")
    assert normalise("name", "Vries, Jan van") == "jan van vries"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Zoë Çelik", "Zoe Celik"),
        ("Fatima El-Amrani", "Fatima El Amrani"),
        ("O’Brien", "O'Brien"),
        ("Søren Bræstrup", "Soren Braestrup"),
        ("Łukasz Dąbrowski", "Lukasz Dabrowski"),
        ("Strauß", "Strauss"),
        (unicodedata.normalize("NFD", "Zoë Çelik"), "zoë çelik"),
    ],
)
def test_name_variants(a: str, b: str) -> None:
    assert normalise("name", a) == normalise("name", b)


def test_name_errors() -> None:
    assert error_of("name", "1234") == "name 1234: holds no letters"
    assert error_of("name", "   ") == "name '   ': is empty"


def test_fold_text() -> None:
    assert fold_text("Zoë Çelik") == "zoe celik"
    assert fold_text("𝐀ﬁ") == "afi"  # compatibility forms fold too (hypothesis found 𝐀)
    assert fold_text("ÆØÅ") == "aeoa"


# -- e-mail, username, account --------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "Jan.DeVries@Example.NL",
        "jan.devries@example.nl",
        "JAN.DEVRIES@EXAMPLE.NL.",
        "mailto:jan.devries@example.nl",
        "Jan de Vries <Jan.DeVries@Example.NL>",
        " jan.devries@example.nl\t",
    ],
)
def test_email(raw: str) -> None:
    assert normalise("email", raw) == "jan.devries@example.nl"


def test_email_idn_domain() -> None:
    assert normalise("email", "jan@xn--bcher-kva.de") == normalise("email", "jan@Bücher.de")
    assert "jan@xn--bcher-kva.de" in surface_forms(Identifier.parse("email", "jan@bücher.de"))


def test_email_keeps_sharp_s_apart() -> None:
    # mail servers compare lower-cased, not case-folded (ß is not ss)
    assert normalise("email", "straße@example.de") != normalise("email", "strasse@example.de")


@pytest.mark.parametrize(
    "raw", ["jan.devries", "jan@", "@example.nl", "jan@example", "jan devries@example.nl"]
)
def test_email_errors(raw: str) -> None:
    assert error_of("email", raw).endswith("expected local-part@domain.tld")


def test_username_and_account() -> None:
    assert normalise("username", "ACME\\JdVries") == "jdvries"
    assert normalise("username", "JdVries") == "jdvries"
    assert normalise("account", " CUST-0042 ") == "cust-0042"


# -- extension ------------------------------------------------------------------------


def test_extension_with_and_without_scope() -> None:
    assert normalise("extension", "201") == "201"
    assert normalise("extension", "2-01") == "201"
    assert normalise("extension", "ACME/201") == "acme/201"
    assert normalise("extension", "acme / 201") == "acme/201"
    assert normalise("extension", "*98#") == "*98#"
    assert Identifier.parse("extension", "201").weak
    assert not Identifier.parse("extension", "acme/201").weak
    assert error_of("extension", "twenty").endswith("expected 1 to 12 digits (with * or #)")
    assert error_of("extension", "ac me/201").endswith("expected scope/number, e.g. acme/201")


# -- shared behaviour -----------------------------------------------------------------


def test_weak_types() -> None:
    assert Identifier.parse("name", "Jan de Vries").weak
    assert Identifier.parse("postcode", "2289 BA").weak
    assert not Identifier.parse("email", "jan@example.nl").weak
    assert not Identifier.parse("phone", "0612345678").weak
    assert str(Identifier.parse("phone", "0612345678")) == "phone:+31612345678"


VALID = {
    "email": "jan@example.nl",
    "phone": "0612345678",
    "mac": "001565abcdef",
    "imei": "352099001761481",
    "iccid": ICCID,
    "imsi": "204041234567890",
    "ip": "192.0.2.1",
    "postcode": "2289BA",
    "name": "Jan de Vries",
    "username": "jdvries",
    "account": "CUST-1",
    "extension": "acme/201",
}


def test_every_type_has_an_example() -> None:
    assert set(VALID) == set(IDENTIFIER_TYPES)


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES)
def test_control_characters_refused_inside(kind: str) -> None:
    value = VALID[kind]
    middle = len(value) // 2
    for control in ("\x00", "\n", "\x1b"):
        raw = value[:middle] + control + value[middle:]
        assert try_normalise(kind, raw) is None
        message = error_of(kind, raw)
        assert "contains control characters" in message
        assert repr(raw)[1:-1][:20] in message  # shown quoted, escaped


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES)
def test_surrounding_white_space_is_not_part_of_the_value(kind: str) -> None:
    assert normalise(kind, f" \t{VALID[kind]}\r\n") == normalise(kind, VALID[kind])


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES)
def test_very_long_input_is_refused_quickly(kind: str) -> None:
    raw = VALID[kind] * (MAX_LENGTH // len(VALID[kind]) + 2)
    message = error_of(kind, raw)
    assert f"longer than {MAX_LENGTH} characters" in message
    assert len(message) < 200  # the value is cut in the message
    assert try_normalise(kind, "9" * 1_000_000) is None


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES)
def test_empty_is_refused(kind: str) -> None:
    assert error_of(kind, "  ").endswith(": is empty")


def test_unknown_type() -> None:
    assert "unknown identifier type; expected one of email, phone" in error_of("fone", "1")


def test_try_normalise_and_normalise_all() -> None:
    assert try_normalise("phone", None) is None
    assert try_normalise("phone", 612345678) == "+31612345678"  # an integer column
    assert normalise_all("email", ["A@B.NL", None, "nope"]) == ["a@b.nl", None, None]


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("phone", "+31612345678"),
        ("phone", "+31887777900"),
        ("mac", "001565abcdef"),
        ("postcode", "2289BA"),
        ("email", "jan@example.nl"),
    ],
)
def test_surface_forms_normalise_back(kind: str, raw: str) -> None:
    identifier = Identifier.parse(kind, raw)
    forms = surface_forms(identifier)
    assert forms[0] == identifier.value
    assert len(forms) == len(set(forms))
    for form in forms:
        assert normalise(kind, form) == identifier.value, form


def test_surface_forms_of_a_foreign_number_never_name_another() -> None:
    # National spellings of a foreign number read as Dutch numbers: they may be
    # useless candidates, but must never normalise to a different valid number.
    identifier = Identifier.parse("phone", "+44 20 7946 0000")
    forms = surface_forms(identifier)
    assert "+44 20 7946 0000" in forms
    for form in forms:
        assert try_normalise("phone", form) in (None, identifier.value), form


# -- property tests -------------------------------------------------------------------

#: national significant numbers of valid Dutch numbers (mobile and landline)
dutch_numbers = st.from_regex(r"\A[1-9][0-9]{8}\Z", fullmatch=True).filter(
    lambda nsn: phonenumbers.is_valid_number(phonenumbers.parse("+31" + nsn))
)


def _grouped(digits: str, separators: list[str]) -> str:
    """Digits with a separator drawn for each gap."""
    out = digits[0]
    for digit, separator in zip(digits[1:], separators, strict=False):
        out += separator + digit
    return out


@st.composite
def phone_surface(draw: st.DrawFn, nsn: str) -> str:
    """One surface spelling of the Dutch number with national significant number nsn."""
    separators = draw(st.lists(st.sampled_from(["", "", " ", "-", "."]), min_size=12, max_size=12))
    body = _grouped(nsn, separators)
    style = draw(st.integers(0, 9))
    if style == 0:
        return "0" + body
    if style == 1:
        return "+31 " + body
    if style == 2:
        return "+31 (0)" + body
    if style == 3:
        return "0031 " + body
    if style == 4:
        return "31" + nsn  # switch / CDR format
    if style == 5:
        return nsn  # lost its leading zero
    if style == 6:
        return f"(0{nsn[:2]}) {nsn[2:]}"
    if style == 7:
        return "tel:+31" + nsn
    if style == 8:
        return "+31-" + body
    return f" 0{body} "


@settings(max_examples=300)
@given(st.data(), dutch_numbers)
def test_property_dutch_number_surfaces_normalise_to_one(data: st.DataObject, nsn: str) -> None:
    expected = "+31" + nsn
    for _ in range(5):
        surface = data.draw(phone_surface(nsn))
        assert normalise("phone", surface) == expected, surface


@settings(max_examples=300)
@given(st.data(), dutch_numbers, dutch_numbers)
def test_property_different_numbers_never_collide(data: st.DataObject, a: str, b: str) -> None:
    assume(a != b)
    first = normalise("phone", data.draw(phone_surface(a)))
    second = normalise("phone", data.draw(phone_surface(b)))
    assert first != second


macs = st.binary(min_size=6, max_size=6)


@st.composite
def mac_surface(draw: st.DrawFn, octets: bytes) -> str:
    bare = octets.hex()
    pairs = [bare[i : i + 2] for i in range(0, 12, 2)]
    style = draw(st.integers(0, 6))
    if style == 0:
        text = ":".join(pairs)
    elif style == 1:
        text = "-".join(pairs)
    elif style == 2:
        text = ".".join(bare[i : i + 4] for i in range(0, 12, 4))
    elif style == 3:
        text = bare[:6] + ":" + bare[6:]
    elif style == 4:
        text = ":".join(pair.lstrip("0") or "0" for pair in pairs)
    elif style == 5:
        text = " ".join(pairs)
    else:
        text = bare
    return text.upper() if draw(st.booleans()) else text


@given(st.data(), macs)
def test_property_mac_notations_normalise_to_one(data: st.DataObject, octets: bytes) -> None:
    for _ in range(4):
        assert normalise("mac", data.draw(mac_surface(octets))) == octets.hex()


@given(st.data(), macs, macs)
def test_property_macs_never_collide(data: st.DataObject, a: bytes, b: bytes) -> None:
    assume(a != b)
    assert normalise("mac", data.draw(mac_surface(a))) != normalise(
        "mac", data.draw(mac_surface(b))
    )


imei_bodies = st.from_regex(r"\A[0-9]{14}\Z", fullmatch=True)


@st.composite
def imei_surface(draw: st.DrawFn, body: str) -> str:
    style = draw(st.integers(0, 3))
    if style == 0:
        digits = body + luhn.calc_check_digit(body)
    elif style == 1:
        digits = body + draw(st.from_regex(r"\A[0-9]{2}\Z", fullmatch=True))  # IMEISV
    elif style == 2:
        digits = body
    else:
        digits = body + luhn.calc_check_digit(body)
        return f"{digits[:2]}-{digits[2:8]}-{digits[8:14]}-{digits[14:]}"
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join([digits[:8], digits[8:]])


@given(st.data(), imei_bodies)
def test_property_imei_and_imeisv_normalise_to_one(data: st.DataObject, body: str) -> None:
    expected = body + luhn.calc_check_digit(body)
    for _ in range(4):
        assert normalise("imei", data.draw(imei_surface(body))) == expected


@given(st.data(), imei_bodies, imei_bodies)
def test_property_imeis_never_collide(data: st.DataObject, a: str, b: str) -> None:
    assume(a != b)
    assert normalise("imei", data.draw(imei_surface(a))) != normalise(
        "imei", data.draw(imei_surface(b))
    )


@given(imei_bodies, st.integers(1, 9))
def test_property_imei_wrong_check_digit_is_refused(body: str, shift: int) -> None:
    good = luhn.calc_check_digit(body)
    wrong = str((int(good) + shift) % 10)
    assert error_of("imei", body + wrong) == f"IMEI {body}{wrong}: check digit should be {good}"


local_parts = st.from_regex(r"\A[a-z0-9]([a-z0-9._+-]{0,20}[a-z0-9])?\Z", fullmatch=True)
domains = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\.(nl|com|example)\Z", fullmatch=True)


@st.composite
def case_variant(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@given(st.data(), local_parts, domains)
def test_property_email_case_variants_normalise_to_one(
    data: st.DataObject, local: str, domain: str
) -> None:
    address = f"{local}@{domain}"
    variant = data.draw(case_variant(address))
    wrapped = data.draw(st.sampled_from(["{}", " {} ", "mailto:{}", "Someone <{}>"]))
    assert normalise("email", wrapped.format(variant)) == address


@given(st.data(), local_parts, domains, local_parts, domains)
def test_property_emails_never_collide(
    data: st.DataObject, local_a: str, domain_a: str, local_b: str, domain_b: str
) -> None:
    a, b = f"{local_a}@{domain_a}", f"{local_b}@{domain_b}"
    assume(a != b)
    assert normalise("email", data.draw(case_variant(a))) != normalise(
        "email", data.draw(case_variant(b))
    )


ACCENTED = {
    "a": "áàäâåã",
    "c": "çč",
    "e": "éèëê",
    "i": "íìïî",
    "n": "ñ",
    "o": "óòöôõ",
    "s": "šś",
    "u": "úùüû",
    "y": "ÿý",
    "z": "žź",
}
words = st.from_regex(r"\A[a-z]{2,10}\Z", fullmatch=True)
plain_names = st.tuples(words, st.sampled_from(["", "de", "van", "van der", "el"]), words)


@st.composite
def name_variant(draw: st.DrawFn, text: str) -> str:
    out = []
    for character in text:
        if character in ACCENTED and draw(st.booleans()):
            character = draw(st.sampled_from(ACCENTED[character]))
        out.append(character.upper() if draw(st.booleans()) else character)
    variant = "".join(out)
    form = draw(st.sampled_from(["NFC", "NFD"]))
    return unicodedata.normalize(form, variant)


def _full(parts: tuple[str, str, str]) -> str:
    return " ".join(part for part in parts if part)


@given(st.data(), plain_names)
def test_property_name_variants_normalise_to_one(
    data: st.DataObject, parts: tuple[str, str, str]
) -> None:
    first, particle, last = parts
    expected = _full(parts)
    assert normalise("name", data.draw(name_variant(expected))) == expected
    inverted = f"{last}, {first} {particle}".strip()  # "Vries, Jan de"
    assert normalise("name", data.draw(name_variant(inverted))) == expected


@given(st.data(), plain_names, plain_names)
def test_property_names_never_collide(
    data: st.DataObject, a: tuple[str, str, str], b: tuple[str, str, str]
) -> None:
    assume(_full(a) != _full(b))
    assert normalise("name", data.draw(name_variant(_full(a)))) != normalise(
        "name", data.draw(name_variant(_full(b)))
    )


@settings(max_examples=300)
@given(st.sampled_from(IDENTIFIER_TYPES), st.text(max_size=80))
def test_property_arbitrary_text_never_crashes(kind: str, raw: str) -> None:
    try:
        value = normalise(kind, raw)
    except InvalidIdentifier as exc:
        assert exc.kind == kind
        assert str(exc)
    else:
        assert value == normalise(kind, value)  # canonical values are fixed points
        assert "\x00" not in value


# -- invisible characters, numbers not yet issued, assumptions ------------------------


@pytest.mark.parametrize("kind", IDENTIFIER_TYPES)
@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u2028"])
def test_invisible_characters_are_refused_for_every_type(kind: str, char: str) -> None:
    example = VALID[kind]
    middle = len(example) // 2
    message = error_of(kind, example[:middle] + char + example[middle:])
    assert f"invisible character U+{ord(char):04X}" in message
    assert char not in message  # shown escaped, never as the character


@pytest.mark.parametrize("raw", ["06-9999 9999", "+31 6 9999 9999", "0031699999999"])
def test_a_full_length_number_outside_the_issued_ranges_is_read(raw: str) -> None:
    number = phonenumbers.parse("+31699999999")
    assert not phonenumbers.is_valid_number(number)  # the premise: not issued
    assert normalise("phone", raw) == "+31699999999"


@pytest.mark.parametrize("raw", ["20261120", "0201234", "699999999", "2026-11-20"])
def test_digits_without_a_trunk_prefix_or_of_the_wrong_length_stay_refused(raw: str) -> None:
    assert try_normalise("phone", raw) is None


def test_imsi_of_an_unassigned_country_is_refused() -> None:
    assert error_of("imsi", "999041234567890") == (
        "IMSI 999041234567890: mobile country code 999 is not assigned to any country"
    )


def test_assumptions_are_said() -> None:
    assert assumptions("imei", "35209900176148") == [
        "IMEI 35209900176148 has 14 digits: read as an IMEI without its check digit "
        "and searched as 352099001761481"
    ]
    assert assumptions("imei", "35-209900-176148-23") == [
        "IMEI 3520990017614823 has 16 digits: read as an IMEISV (software version 23) "
        "and searched as the IMEI 352099001761481"
    ]
    assert assumptions("imsi", "20404123456789") == [
        "IMSI 20404123456789 has 14 digits (usually 15): searched as given"
    ]
    assert assumptions("imei", "352099001761481") == []
    assert assumptions("imei", "352099001761480") == []  # refused, nothing assumed


def test_the_imsi_database_read_ahead_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An IMSI checked while the database is being read ahead waits for that reading
    instead of reading it a second time, and is checked as always."""
    import threading

    from stdnum import numdb

    from discover.identifiers import read_imsi_database_ahead

    monkeypatch.setattr(numdb, "_open_databases", {})
    real_read = numdb.read
    reads: list[int] = []
    reading = threading.Event()

    def slow_read(fp):  # type: ignore[no-untyped-def]
        reads.append(1)
        reading.set()
        threading.Event().wait(0.2)  # still reading when the IMSI below is checked
        return real_read(fp)

    monkeypatch.setattr(numdb, "read", slow_read)
    read_imsi_database_ahead()
    assert reading.wait(timeout=20)  # a bound for a broken build, not a measure
    assert normalise("imsi", "204 08 1234567890") == "204081234567890"
    assert len(reads) == 1
    with pytest.raises(InvalidIdentifier, match="not assigned"):
        normalise("imsi", "999081234567890")
    assert len(reads) == 1
