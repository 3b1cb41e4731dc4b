"""Polars expressions: how each identifier type is looked for inside a column.

A candidate expression turns a column of stored text into the key it is compared on
(lower-case e-mail, bare MAC, the national significant number at the end of a phone
number …) and tests it with ``is_in`` against keys derived from the wanted
identifiers, so that thousands of identifiers cost one hash lookup per row, not a
Python loop. Like the SQL predicates, a candidate expression may select a row too
many; every candidate is verified afterwards with :func:`discover.identifiers.try_normalise`.

Spreadsheets damage identifiers. Excel keeps 15 significant digits of a number, so a
19-digit ICCID typed into a number cell comes back as 8.93104101234568E+18 or
8931041012345678848: digits are lost, and the value may still pass the Luhn check and
name somebody else's SIM. :func:`damaged` finds such values (vectorised, to report
them) and :func:`damage_reason` says why one value is unreadable (for the few rows
that reach Python); a damaged value is never matched and never expanded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection

import phonenumbers
import polars as pl
from stdnum import luhn

from discover.identifiers import UNDECOMPOSED_LETTERS, Identifier

#: scientific notation as spreadsheets print big numbers: 8.93104E+18, 3,52099E+14
SCIENTIFIC = r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$"
_SCIENTIFIC = re.compile(SCIENTIFIC)
#: an integral number printed with a fraction by a float-typed export: 612345678.0
INTEGRAL_FLOAT = r"^(\d+)\.0+$"
_FLOAT_EXACT_LIMIT = 2**53  # above this not every integer is a double

Candidate = Callable[[pl.Expr, Collection[Identifier]], pl.Expr]


def clean(expr: pl.Expr) -> pl.Expr:
    """Stored text trimmed (spaces, tabs, no-break spaces); empty text is null."""
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text).otherwise(None)


def integral(expr: pl.Expr) -> pl.Expr:
    """``612345678.0`` -> ``612345678``: a number a float-typed export printed with .0."""
    return expr.str.replace(INTEGRAL_FLOAT, "${1}")


def fold(expr: pl.Expr) -> pl.Expr:
    """Names case- and accent-folded like :func:`discover.identifiers.fold_text`
    (every letter Unicode does not decompose, ı and ł as much as ß)."""
    folded = expr.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()
    for letter, plain in UNDECOMPOSED_LETTERS.items():
        folded = folded.str.replace_all(letter, plain, literal=True)
    return folded


def _values(identifiers: Collection[Identifier]) -> list[str]:
    return sorted({identifier.value for identifier in identifiers})


def _any(clauses: list[pl.Expr]) -> pl.Expr:
    if not clauses:
        return pl.lit(False)
    return pl.any_horizontal(clauses) if len(clauses) > 1 else clauses[0]


#: up to this many wanted e-mail addresses are found by substring search (one pass,
#: tolerant of "Name <addr>", "mailto:", spaces); more use a hash lookup
_EMAIL_SUBSTRING_LIMIT = 64


def _email(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    values = _values(identifiers)
    if len(values) <= _EMAIL_SUBSTRING_LIMIT:
        ascii_values = [v for v in values if v.isascii()]
        clauses = []
        if ascii_values:
            clauses.append(expr.str.contains_any(ascii_values, ascii_case_insensitive=True))
        if len(ascii_values) < len(values):
            other = [v for v in values if not v.isascii()]
            clauses.append(expr.str.to_lowercase().str.contains_any(other))
        return _any(clauses)
    # Many addresses (a batch): the bare address, or the one inside <…> of a display form.
    lowered = expr.str.strip_chars().str.to_lowercase()
    bare = lowered.str.strip_prefix("mailto:").str.strip_chars_end(".")
    display = lowered.str.extract(r"<\s*(?:mailto:)?([^<>\s]+?)\.?\s*>", 1)
    return bare.is_in(values) | display.is_in(values).fill_null(False)


def national_number(identifier: Identifier) -> str:
    """The national significant number of an E.164 phone identifier."""
    return phonenumbers.national_significant_number(phonenumbers.parse(identifier.value))


def _phone_digits(expr: pl.Expr) -> pl.Expr:
    # Every spelling ends with the national significant number once the punctuation
    # is gone: +31612345678, 0612345678, 0031 6 1234 5678, 316…, and 612345678 (a
    # number cell that lost its leading zero). One regex pass drops a float's ".0"
    # and every non-digit ([^0-9] is far cheaper than the Unicode \D).
    return expr.str.replace_all(r"\.0+\s*$|[^0-9]+", "")


def _phone(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    digits = _phone_digits(expr)
    by_length: dict[int, set[str]] = defaultdict(set)
    for identifier in identifiers:
        tail = national_number(identifier)
        by_length[len(tail)].add(tail)
    return _any(
        [digits.str.slice(-length).is_in(sorted(tails)) for length, tails in by_length.items()]
    )


def _mac_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.replace_all(r"[:\-.\s]", "")


def _mac(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    return _mac_key(expr).is_in(_values(identifiers))


def _digits(expr: pl.Expr) -> pl.Expr:
    return integral(expr.str.strip_chars()).str.replace_all(r"[\s\-./]", "")


def _imei(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    # IMEI (15), IMEISV (16) and IMEI without check digit (14) share the first 14.
    digits = _digits(expr)
    clauses = [digits.str.slice(0, 14).is_in(sorted({i.value[:14] for i in identifiers}))]
    # (index_key keys a row by its first 14 digits: a 14-digit value is both clauses')
    # An IMEI starting with 0 in a number cell lost that zero: find it to report it.
    lost_zero = sorted({i.value[1:] for i in identifiers if i.value.startswith("0")})
    if lost_zero:
        clauses.append(digits.is_in(lost_zero))
    return _any(clauses)


def iccid_digits(expr: pl.Expr) -> pl.Expr:
    """The ICCID's digits: separators and a trailing F pad removed."""
    return integral(expr.str.strip_chars()).str.replace_all(r"[\s\-]", "").str.replace(r"[Ff]$", "")


def _iccid(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    return iccid_digits(expr).is_in(_values(identifiers))


def _imsi(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    return _digits(expr).is_in(_values(identifiers))


def _ip_forms(identifier: Identifier) -> set[str]:
    import ipaddress

    address = ipaddress.ip_address(identifier.value)
    forms = {address.compressed, address.exploded}
    if address.version == 4:
        forms.add(f"::ffff:{address.compressed}")
    return forms


def _ip_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_lowercase().str.strip_chars("[]")


def _ip(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    forms: set[str] = set()
    for identifier in identifiers:
        forms |= _ip_forms(identifier)
    return _ip_key(expr).is_in(sorted(forms))


def _postcode_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_uppercase().str.replace_all(r"\s", "")


def _postcode(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    return _postcode_key(expr).is_in(_values(identifiers))


def _name(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    # The longest word of each folded name, found anywhere in the folded text
    # (Aho-Corasick over all names at once); "Vries, Jan de" still holds "vries".
    words = sorted({max(i.value.split(), key=len) for i in identifiers})
    return fold(expr).str.contains_any(words)


def _username_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_lowercase().str.replace(r"^.*\\", "")


def _username(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    return _username_key(expr).is_in(_values(identifiers))


def _account_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_lowercase()


def _account(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    return _account_key(expr).is_in(_values(identifiers))


def _extension(expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    # The reader has already composed "scope/number" (see scoped_extension).
    return expr.is_in(_values(identifiers))


CANDIDATES: dict[str, Candidate] = {
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


#: the last digits a phone number is indexed by (a national number shorter than this
#: cannot be looked up: such a search reads the files)
PHONE_TAIL = 6

#: For the types whose candidate compares a key derived from the stored text with
#: ``is_in``: that key, as the persistent index stores it. Every row a candidate
#: expression selects for an identifier holds a key :func:`index_lookup` names, so an
#: index built on these keys finds every candidate row (e-mail addresses and names,
#: found by substring, are indexed by their normalised value instead).
INDEX_KEYS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "phone": lambda expr: _phone_digits(expr).str.slice(-PHONE_TAIL),
    "mac": _mac_key,
    "imei": lambda expr: _digits(expr).str.slice(0, 14),
    "iccid": iccid_digits,
    "imsi": _digits,
    "ip": _ip_key,
    "postcode": _postcode_key,
    "username": _username_key,
    "account": _account_key,
    "extension": lambda expr: expr,
}


def index_key(kind: str, expr: pl.Expr) -> pl.Expr | None:
    """The index key of a stored value (``expr`` as :func:`candidate` takes it); None
    for the types indexed by their normalised value."""
    build = INDEX_KEYS.get(kind)
    return None if build is None else build(expr)


def index_lookup(identifier: Identifier) -> list[str]:
    """The keys under which the index holds every row the candidate expression
    selects for ``identifier`` (a type of :data:`INDEX_KEYS`). A phone number's key
    is the last digits of its national number: shorter than :data:`PHONE_TAIL`, that
    is not the key a row is indexed by (the caller then reads the files)."""
    kind, value = identifier.type, identifier.value
    if kind == "phone":
        return [national_number(identifier)[-PHONE_TAIL:]]
    if kind == "imei":
        return [value[:14], *([value[1:]] if value.startswith("0") else [])]
    if kind == "ip":
        return sorted(_ip_forms(identifier))
    return [value]


def candidate(kind: str, expr: pl.Expr, identifiers: Collection[Identifier]) -> pl.Expr:
    """True for rows whose ``expr`` may hold one of ``identifiers`` (all of type ``kind``).

    ``expr`` is the stored text as read (untrimmed), except for extensions, which are
    given as composed by :func:`scoped_extension`.
    """
    return CANDIDATES[kind](expr, identifiers)


def scoped_extension(number: pl.Expr, scope: pl.Expr | None) -> pl.Expr:
    """An extension column as ``scope/number`` where the row or source names a scope.

    The number loses spaces, dashes and dots (as the normaliser does); a stored value
    that already holds a scope ("acme/201") is kept as it is.
    """
    digits = integral(number).str.replace_all(r"[\s\-.]", "")
    if scope is None:
        return digits.str.to_lowercase()
    scope_text = scope.str.strip_chars().str.to_lowercase()
    return (
        pl.when(digits.str.contains("/", literal=True))
        .then(digits.str.to_lowercase())
        .when(scope_text.str.len_bytes() > 0)
        .then(pl.concat_str([scope_text, pl.lit("/"), digits]))
        .otherwise(digits)
    )


# -- damage ---------------------------------------------------------------------------

#: identifier types whose values a spreadsheet can damage in ways we can detect
DAMAGEABLE = frozenset({"phone", "iccid", "imei", "imsi"})
#: ... and those whose damaged values a scan reports in bulk. A phone number in
#: scientific notation is refused per value (never matched, never expanded) but not
#: looked for in every row: spreadsheets print 9-11 digit numbers in full.
REPORTED = frozenset({"iccid", "imei", "imsi"})


def holds_unrounded_iccids(expr: pl.Expr) -> pl.Expr:
    """True when the column holds a 16+ digit ICCID that no float prints as (neither
    zero-padded nor exactly a double): a tool that printed floats would have printed
    every value of the column so, so the column was kept as text and a value in it
    whose digits happen to be a double's is the ICCID as typed."""
    digits = iccid_digits(expr)
    long_number = digits.str.contains(r"^\d{16,}$")
    zero_tail = digits.str.slice(15).str.contains(r"^0+$")
    as_float = digits.cast(pl.Float64, strict=False)
    exact_double = (as_float > _FLOAT_EXACT_LIMIT) & (
        as_float.cast(pl.Int128, strict=False).cast(pl.String) == digits
    )
    return (long_number & ~zero_tail & ~exact_double.fill_null(False)).fill_null(False).any()


def damaged(kind: str, expr: pl.Expr, *, typed: bool = False) -> pl.Expr | None:
    """True for values that a spreadsheet's number cell has visibly damaged.

    * scientific notation (8.93104E+18): digits are gone (ICCID, IMEI, IMSI);
    * an ICCID of 16+ digits whose digits after the 15th are all 0: Excel kept 15
      significant digits and padded with zeros (8931041012345670000);
    * an ICCID above 2**53 that is exactly a double (8931041012345678848): the exact
      print of a float, the way calamine and many tools render a number cell. A real
      ICCID is a double by chance once in ~1,000 (19 digits): then it is reported as
      unreadable, never matched wrongly. Not where the cell types are known
      (``typed``: a workbook, whose number cells were already turned into scientific
      notation): there a text cell is the ICCID as typed.
    """
    if kind not in REPORTED:
        return None
    scientific = expr.str.contains(SCIENTIFIC)
    if kind != "iccid":
        return scientific
    digits = iccid_digits(expr)
    long_number = digits.str.contains(r"^\d{16,}$")
    zero_tail = digits.str.slice(15).str.contains(r"^0+$")
    as_float = digits.cast(pl.Float64, strict=False)
    exact_double = (as_float > _FLOAT_EXACT_LIMIT) & (
        as_float.cast(pl.Int128, strict=False).cast(pl.String) == digits
    )
    if typed:
        return scientific | (long_number & zero_tail)
    return scientific | (long_number & (zero_tail | exact_double))


def damage_reason(kind: str, text: str, *, typed: bool = False) -> tuple[str, bool] | None:
    """Why ``text`` cannot be trusted as an identifier of ``kind`` (None: it can).

    The flag says whether :func:`damaged` finds it too (and the scan reports it in
    bulk); a 14-digit IMEI that may have lost its leading zero is found per row only.
    """
    value = text.strip()
    if kind in DAMAGEABLE and _SCIENTIFIC.match(value):
        return "stored as a number in scientific notation: digits were lost", True
    if kind == "iccid":
        digits = re.sub(r"[\s\-]", "", re.sub(INTEGRAL_FLOAT, r"\1", value))
        digits = digits[:-1] if digits[-1:] in ("F", "f") else digits
        if digits.isdigit() and len(digits) >= 16:
            if set(digits[15:]) == {"0"}:
                return "rounded to 15 significant digits by a spreadsheet", True
            number = int(digits)
            if not typed and number > _FLOAT_EXACT_LIMIT and int(float(number)) == number:
                return "the exact value of a floating-point number: digits were lost", True
    if kind == "imei":
        digits = re.sub(r"[\s\-./]", "", re.sub(INTEGRAL_FLOAT, r"\1", value))
        if len(digits) == 14 and digits.isdigit() and luhn.is_valid("0" + digits):
            return "14 digits: may be an IMEI whose leading 0 a number cell dropped", False
    return None
