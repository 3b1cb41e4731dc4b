"""Typed identifiers and their normalisation.

Every identifier is normalised once, the same way, on both sides: the value the
privacy officer types and the value a source stores. Two surface spellings of one
phone number, MAC address or IMEI therefore compare equal, and two different
numbers never do. Validation uses the well-kept libraries for each kind
(phonenumbers, netaddr, python-stdnum, ipaddress) so that the rules are the
published ones, not ours.

:func:`normalise` raises :class:`~discover.errors.InvalidIdentifier` with the
reason; :func:`try_normalise` returns ``None`` instead, for values read from a
source that may hold anything.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, get_args

import netaddr
import phonenumbers
from stdnum import imsi as stdnum_imsi
from stdnum import luhn, numdb
from stdnum.exceptions import ValidationError
from stdnum.nl import postcode as stdnum_postcode

from discover.errors import InvalidIdentifier

IdentifierType = Literal[
    "email",
    "phone",
    "mac",
    "imei",
    "iccid",
    "imsi",
    "ip",
    "postcode",
    "name",
    "username",
    "account",
    "extension",
]
IDENTIFIER_TYPES: tuple[str, ...] = get_args(IdentifierType)

#: Kinds that on their own do not identify one person: a match on them alone is
#: only "possible" and needs review, and they never feed identity expansion.
WEAK_TYPES: frozenset[str] = frozenset({"name", "postcode"})

DEFAULT_REGION = "NL"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Unicode categories no identifier holds: controls, format characters (the bidi
#: overrides U+202A–U+202E and U+2066–U+2069, zero-width spaces and joiners, the byte
#: order mark), private-use and surrogate code points, line and paragraph separators.
#: A value with one of them looks like another value on screen ("moc.elpmaxe@nej"
#: shown as "jan@example.com"), so it is refused, never silently cleaned.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})

#: Longer values are not identifiers (an e-mail address is at most 254 characters);
#: refusing them early keeps regular expressions and parsers on small inputs.
MAX_LENGTH = 512


@dataclass(frozen=True, order=True, slots=True)
class Identifier:
    """A normalised identifier: its type and its canonical value."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"

    @property
    def weak(self) -> bool:
        """True when a match on this alone is only "possible".

        Names and postcodes are weak; so is an extension without its scope ("201"
        exists at every client), while "acme/201" names one line.
        """
        if self.type == "extension":
            return "/" not in self.value
        return self.type in WEAK_TYPES

    @classmethod
    def parse(cls, kind: str, raw: str) -> Identifier:
        """Normalise ``raw`` as ``kind``; raise InvalidIdentifier when it is not one."""
        return cls(kind, normalise(kind, raw))


def _reject_control(kind: str, raw: str) -> str:
    """The value without surrounding white space; control characters inside are refused.

    A trailing newline or tab (a value pasted from a mail, a CSV cell) is surrounding
    white space and goes; a NUL or newline *inside* a value is never part of an
    identifier and is refused, so that it can never reach a source's query.
    """
    if not isinstance(raw, str):
        raw = str(raw)
    value = raw.strip()
    if not value:
        raise InvalidIdentifier(kind, raw, "is empty")
    if len(value) > MAX_LENGTH:
        raise InvalidIdentifier(kind, raw, f"is longer than {MAX_LENGTH} characters")
    if "\x00" in raw or _CONTROL.search(value):
        raise InvalidIdentifier(kind, raw, "contains control characters (NUL, tab, newline …)")
    invisible = invisible_character(value)
    if invisible is not None:
        raise InvalidIdentifier(kind, raw, f"contains the invisible character {invisible}")
    return value


def invisible_character(text: str) -> str | None:
    """The first bidi, format or other invisible character in ``text``, described
    (``U+202E RIGHT-TO-LEFT OVERRIDE``), or None when there is none."""
    for char in text:
        if char.isascii():
            continue
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            name = unicodedata.name(char, "unnamed")
            return f"U+{ord(char):04X} {name}"
    return None


def _email(raw: str) -> str:
    """local-part@domain, lower-cased; a display form ``Name <addr>`` gives its address.

    Lower-casing (not ``str.casefold``) keeps "straße@" and "strasse@" apart, as
    mail servers do, and agrees with the databases' own LOWER(). A punycode domain
    (``xn--…``) is compared in its Unicode form.
    """
    value = _reject_control("email", raw)
    display = re.fullmatch(r"[^<>]*<([^<>]+)>", value)
    if display:
        value = display.group(1).strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    local, sep, domain = value.rpartition("@")
    quoted = len(local) >= 2 and local[0] == local[-1] == '"'
    if (
        not sep
        or not local
        or not domain
        or re.search(r"\s", domain)
        or (re.search(r"\s", local) and not quoted)
        or "." not in domain.strip(".")
    ):
        raise InvalidIdentifier("email", raw, "expected local-part@domain.tld")
    domain = domain.lower().rstrip(".")
    if "xn--" in domain:
        with contextlib.suppress(UnicodeError):  # invalid punycode: compare as written
            domain = domain.encode("ascii").decode("idna").lower()
    return f"{local.lower()}@{domain}"


def _phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164. Numbers of the default region must be valid, not merely possible.

    Accepted surface forms: national (``06-12345678``), international (``+31 6 …``,
    ``0031 6 …``, ``+31 (0)6 …``), the switch/CDR form without a plus
    (``31612345678``) and a national number that lost its leading zero
    (``612345678``). A foreign number given with its country code is accepted when
    it is *possible* (phonenumbers may not know a new range yet); a number of the
    default region must be *valid*, so that stray digits (``12345``, an IP address,
    a date) never become a phone number.
    """
    value = _reject_control("phone", raw)
    lowered = value.lower()
    for prefix in ("tel:", "sip:"):
        if lowered.startswith(prefix):
            value = value[len(prefix) :].split(";")[0].split("@")[0]
    digits = re.sub(r"\D", "", value)
    if not digits:
        raise InvalidIdentifier("phone", raw, "holds no digits")
    if len(digits) > 17:  # E.164 allows 15 digits; 00 and a stray (0) add two
        raise InvalidIdentifier("phone", raw, f"has {len(digits)} digits, more than a number")
    explicit = value.startswith(("+", "00"))
    candidates = [value]
    if not explicit:
        # A switch or CDR format without the plus (31612345678), or a national
        # number that lost its leading zero in a spreadsheet (612345678).
        candidates.append("+" + digits)
    possible: phonenumbers.PhoneNumber | None = None
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        foreign = phonenumbers.region_code_for_number(number) != region
        if explicit and foreign and possible is None and phonenumbers.is_possible_number(number):
            possible = number
    if possible is None:
        possible = _full_length(value, region)
    if possible is None:
        raise InvalidIdentifier("phone", raw, f"not a valid phone number (region {region})")
    return phonenumbers.format_number(possible, phonenumbers.PhoneNumberFormat.E164)


def _full_length(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    """A number written with its trunk prefix or country code and of the full national
    length, but in a range not (yet) issued: ``0699999999``.

    It is read, so that a request and a source that both hold it meet on one normal
    form; a bare digit string (a date, a postcode) without ``0``, ``+`` or ``00`` never is.
    """
    if not value.lstrip("(").startswith(("0", "+")):
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    number_region = phonenumbers.region_code_for_country_code(number.country_code)
    example = phonenumbers.example_number(number_region) if number_region else None
    if example is None or not phonenumbers.is_possible_number(number):
        return None
    national = phonenumbers.national_significant_number(number)
    if len(national) != len(phonenumbers.national_significant_number(example)):
        return None
    return number


_MAC_SHAPES = {6: 2, 3: 4, 2: 6, 1: 12}  # groups -> hex digits per group


def _mac(raw: str) -> str:
    """Bare lower-case hex. Every notation: 00:15:65:ab:cd:ef, 00-15-65-AB-CD-EF,
    0015.65ab.cdef (Cisco), 001565:abcdef, 001565abcdef, 0:15:65:ab:cd:ef.

    The shape is checked before netaddr sees it: netaddr also reads a plain integer
    ("1234") as a MAC address, and a stray number must not become one.
    """
    value = _reject_control("mac", raw)
    separators = set(re.findall(r"[:\-. ]", value))
    groups = re.split(r"[:\-. ]", value) if separators else [value]
    width = _MAC_SHAPES.get(len(groups))
    if (
        len(separators) > 1
        or width is None
        or not all(re.fullmatch(rf"[0-9A-Fa-f]{{1,{width}}}", group) for group in groups)
        or (width != 2 and any(len(group) != width for group in groups))
    ):
        raise InvalidIdentifier("mac", raw, "not a MAC address in any known notation")
    bare = "".join(group.rjust(width, "0") for group in groups)
    try:
        eui = netaddr.EUI(bare, version=48)
    except (netaddr.AddrFormatError, TypeError, ValueError) as exc:
        raise InvalidIdentifier("mac", raw, "not a MAC address in any known notation") from exc
    return str(eui.format(netaddr.mac_bare)).lower()


def _digits(kind: str, raw: str, *, allowed: str = r"[\s\-./]") -> str:
    value = _reject_control(kind, raw)
    compact = re.sub(allowed, "", value)
    if not compact.isdigit():
        raise InvalidIdentifier(kind, raw, "expected digits only")
    return compact


def _imei(raw: str) -> str:
    digits = _digits("imei", raw)
    if len(digits) == 16:  # IMEISV: 14-digit TAC+serial, 2-digit software version
        return digits[:14] + luhn.calc_check_digit(digits[:14])
    if len(digits) == 14:  # without its check digit
        return digits + luhn.calc_check_digit(digits)
    if len(digits) != 15:
        raise InvalidIdentifier("imei", raw, f"expected 14, 15 or 16 digits, got {len(digits)}")
    expected = luhn.calc_check_digit(digits[:14])
    if digits[14] != expected:
        raise InvalidIdentifier("imei", raw, f"check digit should be {expected}")
    return digits


def _iccid(raw: str) -> str:
    value = _reject_control("iccid", raw)
    value = re.sub(r"[\s\-]", "", value)
    if value[-1:] in ("F", "f"):  # some systems pad odd lengths with F
        value = value[:-1]
    if not value.isdigit():
        raise InvalidIdentifier("iccid", raw, "expected digits only")
    if not 18 <= len(value) <= 22:
        raise InvalidIdentifier("iccid", raw, f"expected 18 to 22 digits, got {len(value)}")
    if not value.startswith("89"):
        raise InvalidIdentifier("iccid", raw, "expected the telecom prefix 89")
    expected = luhn.calc_check_digit(value[:-1])
    if value[-1] != expected:
        raise InvalidIdentifier("iccid", raw, f"check digit should be {expected}")
    return value


#: held while python-stdnum's IMSI database is read, so that a search that reads it
#: ahead (:func:`read_imsi_database_ahead`) and one that needs it meanwhile read it once
_imsi_database = threading.Lock()


def read_imsi_database() -> None:
    """Read python-stdnum's IMSI database (the operators of every country), once per
    process: some 30 ms of parsing, which the first IMSI checked waits for."""
    with _imsi_database:
        numdb.get("imsi")


def read_imsi_database_ahead() -> None:
    """Read the IMSI database in the background: a search that finds an IMSI in its
    first round (a SIM inventory) checks it on the way to the next round's scans, and
    the database is read by then, while the first round's scans wait on their files
    and databases."""
    threading.Thread(target=read_imsi_database, name="imsi-database", daemon=True).start()


def _imsi(raw: str) -> str:
    """15 digits (python-stdnum); a mobile country code no numbering plan assigns
    is refused: an IMSI starting 999 is a typo, not a subscriber."""
    digits = _digits("imsi", raw)
    read_imsi_database()
    try:
        value = str(stdnum_imsi.validate(digits))
    except ValidationError as exc:
        raise InvalidIdentifier("imsi", raw, str(exc).rstrip(".").lower()) from exc
    if _imsi_country(value) is None:
        raise InvalidIdentifier(
            "imsi", raw, f"mobile country code {value[:3]} is not assigned to any country"
        )
    return value


def _imsi_country(value: str) -> str | None:
    try:
        info = stdnum_imsi.info(value)
    except (ValidationError, ValueError, KeyError):
        return None
    return info.get("country") or info.get("cc") or None


def _ip(raw: str) -> str:
    """The compressed address. An IPv4-mapped IPv6 address is its IPv4 address; an
    IPv6 zone (``fe80::1%eth0``) names the local interface, not the address, and is
    dropped; IPv4 octets with leading zeros (``192.168.001.010``) are read as decimal.
    """
    value = _reject_control("ip", raw)
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    text = text.split("%", 1)[0] if ":" in text else text
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text):
        text = ".".join(str(int(octet)) for octet in text.split("."))
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise InvalidIdentifier("ip", raw, "not an IPv4 or IPv6 address") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.compressed
    return address.compressed


def _postcode(raw: str) -> str:
    value = _reject_control("postcode", raw)
    try:
        return str(stdnum_postcode.compact(stdnum_postcode.validate(value)))
    except ValidationError as exc:
        raise InvalidIdentifier("postcode", raw, "expected a Dutch postcode like 2289 BA") from exc


#: Letters that Unicode does not decompose into a base letter and an accent.
UNDECOMPOSED_LETTERS: dict[str, str] = {
    "ß": "ss",
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ı": "i",
    "þ": "th",
}
_UNDECOMPOSED = str.maketrans(UNDECOMPOSED_LETTERS)


def fold_text(text: str) -> str:
    """Case-fold and strip accents: 'Zoë Çelik' -> 'zoe celik'."""
    # NFKD first: compatibility forms (𝐀, ﬁ, ①) decompose into letters that casefold
    # then folds; a second NFKD splits what casefold composed.
    compatible = unicodedata.normalize("NFKD", text).casefold().translate(_UNDECOMPOSED)
    decomposed = unicodedata.normalize("NFKD", compatible)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def _name(raw: str) -> str:
    """Folded, particles kept: "Vries, Jan de", "JAN DE VRIES", "Jan de Vriés" are one.

    A hyphen between name parts counts as a space (El-Amrani, El Amrani) and every
    apostrophe is the plain one (O’Brien, O'Brien).
    """
    value = _reject_control("name", raw)
    if "," in value:  # "Vries, Jan de" -> "Jan de Vries"
        last, _, first = value.partition(",")
        value = f"{first} {last}"
    folded = fold_text(value)
    folded = re.sub(r"[’‘`´ʼ]", "'", folded)
    folded = re.sub(r"[.,\"“”„\-‐‑–—_]", " ", folded)
    folded = re.sub(r"\s+", " ", folded).strip()
    if not any(ch.isalpha() for ch in folded):
        raise InvalidIdentifier("name", raw, "holds no letters")
    return folded


def _username(raw: str) -> str:
    value = _reject_control("username", raw)
    if "\\" in value:  # DOMAIN\user
        value = value.rsplit("\\", 1)[1]
    if not value:
        raise InvalidIdentifier("username", raw, "is empty")
    return value.casefold()


def _account(raw: str) -> str:
    return _reject_control("account", raw).casefold()


def _extension(raw: str) -> str:
    """An internal extension, optionally scoped by its PBX or client: ``acme/201``."""
    value = _reject_control("extension", raw)
    scope, _, number = value.rpartition("/")
    number = re.sub(r"[\s\-.]", "", number)
    if not re.fullmatch(r"[0-9*#]{1,12}", number):
        raise InvalidIdentifier("extension", raw, "expected 1 to 12 digits (with * or #)")
    scope = scope.strip().casefold()
    if "/" in scope or (scope and not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", scope)):
        raise InvalidIdentifier("extension", raw, "expected scope/number, e.g. acme/201")
    return f"{scope}/{number}" if scope else number


_NORMALISERS: dict[str, Callable[[str], str]] = {
    "email": _email,
    "phone": _phone,
    "mac": _mac,
    "imei": _imei,
    "iccid": _iccid,
    "imsi": _imsi,
    "ip": _ip,
    "postcode": _postcode,
    "name": _name,
    "username": _username,
    "account": _account,
    "extension": _extension,
}


def normalise(kind: str, raw: str) -> str:
    """The canonical value of ``raw`` read as identifier type ``kind``.

    Raises InvalidIdentifier naming the type, the value and the reason.
    """
    try:
        normaliser = _NORMALISERS[kind]
    except KeyError:
        raise InvalidIdentifier(
            kind,
            str(raw),
            f"unknown identifier type; expected one of {', '.join(IDENTIFIER_TYPES)}",
        ) from None
    return normaliser(raw)


def assumptions(kind: str, raw: str) -> list[str]:
    """What reading ``raw`` as ``kind`` assumed, for the request's warnings.

    An IMEI of 14 digits is read as an IMEI without its check digit, one of 16 as an
    IMEISV (whose last two digits are the software version); an IMSI of 14 digits is
    shorter than the usual 15. The value is searched, and the request says so.
    """
    try:
        value = normalise(kind, raw)
    except InvalidIdentifier:
        return []
    digits = re.sub(r"\D", "", str(raw))
    if kind == "imei" and len(digits) == 14:
        return [
            f"IMEI {digits} has 14 digits: read as an IMEI without its check digit "
            f"and searched as {value}"
        ]
    if kind == "imei" and len(digits) == 16:
        return [
            f"IMEI {digits} has 16 digits: read as an IMEISV (software version "
            f"{digits[14:]}) and searched as the IMEI {value}"
        ]
    if kind == "imsi" and len(digits) == 14:
        return [f"IMSI {digits} has 14 digits (usually 15): searched as given"]
    return []


def try_normalise(kind: str, raw: object) -> str | None:
    """Like :func:`normalise` for values read from a source: ``None`` when unreadable."""
    if raw is None:
        return None
    try:
        return normalise(kind, str(raw))
    except InvalidIdentifier:
        return None


def normalise_all(kind: str, raws: Iterable[object]) -> list[str | None]:
    """Normalise many stored values; unreadable ones become ``None``."""
    return [try_normalise(kind, raw) for raw in raws]


def surface_forms(identifier: Identifier) -> list[str]:
    """Common spellings a source may store for one identifier, canonical first.

    Used where a source compares strings itself (an LDAP server, an SQL ``IN``):
    the candidates it returns are always verified again after normalisation.
    """
    value = identifier.value
    forms = [value]
    if identifier.type == "phone":
        number = phonenumbers.parse(value)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        international = phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        national_digits = re.sub(r"\D", "", national)
        forms += [
            national,
            international,
            national_digits,
            "00" + value[1:],
            value[1:],
            national.replace(" ", "-"),
            international.replace(" ", ""),
        ]
        # Directories and address books also write "088-1234567" (area code, dash,
        # subscriber number) and "+31 (0)88 123 4567" (international with the trunk 0).
        area, _, rest = national.partition(" ")
        if rest:
            forms.append(f"{area}-{rest.replace(' ', '')}")
        if national.startswith("0"):
            forms += [
                f"+{number.country_code} (0){national[1:]}",
                f"+{number.country_code}(0){national_digits[1:]}",
            ]
    elif identifier.type == "mac":
        pairs = [value[i : i + 2] for i in range(0, 12, 2)]
        quads = [value[i : i + 4] for i in range(0, 12, 4)]
        for text in (":".join(pairs), "-".join(pairs), ".".join(quads)):
            forms += [text, text.upper()]
        forms.append(value.upper())
    elif identifier.type == "email":
        local, _, domain = value.rpartition("@")
        with contextlib.suppress(UnicodeError):
            ascii_domain = domain.encode("idna").decode("ascii")
            forms.append(f"{local}@{ascii_domain}")
    elif identifier.type == "postcode":
        forms.append(f"{value[:4]} {value[4:]}")
    return list(dict.fromkeys(forms))
