"""Which personal data a column holds, judged by its values (and, for names, its header).

A column is a sample of its stored values. Each value is tested against detectors
that check what can be checked: phone numbers with phonenumbers, IMEI/ICCID with
their Luhn check digit, IMSI by its country and network code, IBAN and the Dutch
BSN (the eleven-test) with python-stdnum. A column is of a type when most of its
non-empty values are; names and user names, which no content test recognises,
are recognised by the column's header.

Nothing here reads a source: :mod:`connectors.sampling` draws the samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import imsi as stdnum_imsi
from stdnum import luhn
from stdnum.nl import bsn as stdnum_bsn
from stdnum.nl import postcode as stdnum_postcode

from discover.identifiers import DEFAULT_REGION, try_normalise

#: share of non-empty sampled values that must be of a type for the column to be
MIN_SHARE = 0.6

_EMAIL = re.compile(r"^[^@\s<>(),;:]+@[^@\s<>(),;:]+\.[A-Za-z]{2,}$")
_MAC = re.compile(
    r"^(?:[0-9A-Fa-f]{2}([:-]?)){5}[0-9A-Fa-f]{2}$|^(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$"
)
_DIGITS = re.compile(r"[\s.-]")
_PHONE_CHARS = re.compile(r"^[+(]?[0-9][0-9 ()./-]{5,22}$")

#: header words that name a column's content where values cannot (lower case, no accents)
_HEADER_HINTS: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "naam",
        "cn",
        "displayname",
        "givenname",
        "sn",
        "surname",
        "firstname",
        "lastname",
        "voornaam",
        "achternaam",
        "fullname",
        "contact",
        "keyholder",
        "holder",
        "sleutelhouder",
        "tussenvoegsel",
        "initials",
        "initialen",
    ),
    "username": ("uid", "username", "login", "samaccountname", "userid", "gebruikersnaam"),
    "extension": ("extension", "ext", "toestel", "intern", "extensie"),
}
#: header words that are not names even though they contain one of the name words
_NOT_NAMES = (
    "filename",
    "hostname",
    "username",
    "domainname",
    "company",
    "bedrijf",
    "organisation",
    "organization",
    "street",
    "straat",
    "city",
    "plaats",
    "sheet",
    "server",
    "host",
    "device",
    "file",
    "path",
    "url",
    "domain",
    "realm",
    "ring",
    "model",
    "vendor",
    "product",
    "group",
    "table",
    "auth",
)


@dataclass(frozen=True, slots=True)
class Detection:
    """What a sampled column holds: the type, how sure, how shown."""

    type: str
    confidence: float
    special: bool
    examples: tuple[str, ...]
    by: str  # "content" or "header"


def _digits(value: str) -> str:
    return _DIGITS.sub("", value)


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and try_normalise("email", value) is not None


def is_mac(value: str) -> bool:
    return bool(_MAC.match(value))


def is_imei(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 15 and digits.isdigit() and luhn.is_valid(digits) and digits[:2] in _TAC


#: GSMA reporting bodies: the first two digits of every IMEI (TAC)
_TAC = frozenset(
    {
        "01",
        "10",
        "30",
        "33",
        "35",
        "44",
        "45",
        "49",
        "50",
        "51",
        "52",
        "53",
        "54",
        "86",
        "91",
        "98",
        "99",
    }
)


def is_iccid(value: str) -> bool:
    digits = _digits(value)
    return (
        digits.startswith("89")
        and 18 <= len(digits) <= 20
        and digits.isdigit()
        and luhn.is_valid(digits)
    )


def is_imsi(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 15 and digits.isdigit() and stdnum_imsi.is_valid(digits)


def is_iban(value: str) -> bool:
    return len(value) >= 15 and value[:2].isalpha() and stdnum_iban.is_valid(value)


def is_bsn(value: str) -> bool:
    digits = _digits(value)
    return (
        len(digits) in (8, 9)
        and digits.isdigit()
        and int(digits) > 0
        and stdnum_bsn.is_valid(digits)
    )


def is_ip(value: str) -> bool:
    if not re.match(r"^[0-9a-fA-F:.]{3,45}$", value) or value.count(".") not in (0, 3):
        return False
    if ":" not in value and value.count(".") != 3:
        return False
    return try_normalise("ip", value) is not None


def is_postcode(value: str) -> bool:
    return bool(re.match(r"^[1-9][0-9]{3}\s?[A-Za-z]{2}$", value)) and stdnum_postcode.is_valid(
        value
    )


def is_phone(value: str) -> bool:
    text = value.strip()
    if text.lower().startswith(("tel:", "sip:")):
        text = text[4:].split("@")[0]
    if not _PHONE_CHARS.match(text):
        return False
    digits = re.sub(r"\D", "", text)
    if len(digits) < 9 or len(digits) > 15:
        return False
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


#: the content detectors, the most specific first: a value counts for the first that fits
DETECTORS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("email", is_email),
    ("iban", is_iban),
    ("mac", is_mac),
    ("iccid", is_iccid),
    ("imei", is_imei),
    ("imsi", is_imsi),
    ("ip", is_ip),
    ("postcode", is_postcode),
    ("bsn", is_bsn),  # before phone: nine bare digits that pass the eleven-test
    ("phone", is_phone),
)
#: types that are special: a national identification number (BSN) may be processed only
#: where the law says so (UAVG art. 46)
SPECIAL: frozenset[str] = frozenset({"bsn"})
#: every type a finding may have; those that are discover identifier types are searchable
TYPES: tuple[str, ...] = (*(name for name, _ in DETECTORS), "name", "username", "extension")


def value_type(value: str) -> str | None:
    """The first detector type ``value`` fits, or None."""
    text = value.strip()
    if not text or len(text) > 254:
        return None
    for name, test in DETECTORS:
        if test(text):
            return name
    return None


def mask(value: str) -> str:
    """A value as an example shows it: enough to recognise the form, not the person."""
    text = value.strip()
    if "@" in text:
        local, _, domain = text.partition("@")
        return (
            f"{local[:1]}***@{domain[:1]}***{domain[domain.rfind('.') :] if '.' in domain else ''}"
        )
    if len(text) <= 4:
        return text[:1] + "*" * (len(text) - 1)
    keep = 2 if len(text) < 10 else 3
    middle = re.sub(r"[^\s.:/-]", "*", text[keep:-keep])
    return text[:keep] + middle + text[-keep:]


def _header_words(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.casefold())


def header_type(header: str) -> str | None:
    """The type a column's header names, for content no test recognises (names)."""
    word = _header_words(header)
    if not word:
        return None
    for kind, hints in _HEADER_HINTS.items():
        if kind == "name" and any(stop in word for stop in _NOT_NAMES):
            continue
        if word in hints or any(word.endswith(hint) and len(hint) > 3 for hint in hints):
            return kind
    return None


def detect(header: str, values: Sequence[object], *, examples: int = 2) -> Detection | None:
    """What the sampled column ``header`` holds, or None when no personal data is seen."""
    texts = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if texts:
        kinds = Counter(value_type(t) for t in texts)
        best, count = max(
            ((k, c) for k, c in kinds.items() if k is not None),
            key=lambda kc: kc[1],
            default=(None, 0),
        )
        if best is not None and count / len(texts) >= MIN_SHARE:
            shown = [mask(t) for t in texts if value_type(t) == best][:examples]
            return Detection(
                best, round(count / len(texts), 2), best in SPECIAL, tuple(shown), "content"
            )
    hinted = header_type(header)
    if hinted is not None and texts:
        textual = [t for t in texts if re.search(r"[A-Za-z]", t) or hinted == "extension"]
        if len(textual) / len(texts) >= MIN_SHARE:
            return Detection(
                hinted, 0.5, False, tuple(mask(t) for t in textual[:examples]), "header"
            )
    return None
