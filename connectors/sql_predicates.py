"""Candidate predicates: how each identifier type is searched inside the database.

Sources store identifiers in any surface format ("06-1234 5678", "Jan@Example.NL",
"00:15:65:AB:CD:EF"). A predicate strips the formatting characters with portable SQL
functions (REPLACE, LOWER, TRIM work on SQLite, PostgreSQL and MariaDB alike) and
compares against values derived from the normalised identifier, always through
bound parameters. It may return a few candidates too many (a foreign number with the
same national digits); the connector verifies every candidate after normalisation,
so the predicate only has to never miss and never be widened by the identifier's
own characters: LIKE patterns are built from digits only, or escaped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from discover.identifiers import Identifier

LIKE_ESCAPE = "/"
_PHONE_JUNK = (" ", "-", "(", ")", "+", ".", "/")
_MAC_JUNK = (":", "-", ".", " ")


def _text(column: ColumnElement) -> ColumnElement:
    return sa.cast(column, sa.String)


def _strip(expression: ColumnElement, characters: Sequence[str]) -> ColumnElement:
    for character in characters:
        expression = sa.func.replace(expression, character, "")
    return expression


def digits_of(column: ColumnElement) -> ColumnElement:
    """The column with phone-number punctuation removed (spaces, dashes, brackets, +)."""
    return _strip(_text(column), _PHONE_JUNK)


def escape_like(text: str) -> str:
    """Escape LIKE metacharacters so that user text only ever matches itself."""
    for character in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(character, LIKE_ESCAPE + character)
    return text


def _any(clauses: list[ColumnElement]) -> ColumnElement:
    return sa.or_(*clauses) if len(clauses) > 1 else clauses[0]


def _email(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    return sa.func.lower(sa.func.trim(_text(column))).in_([i.value for i in values])


def _tail_in(digits: ColumnElement, tails: set[str]) -> ColumnElement:
    """``digits`` ends with one of ``tails``: an IN list per tail length (hash-friendly)."""
    clauses = []
    for length in sorted({len(t) for t in tails}):
        tail = sa.func.substr(digits, sa.func.length(digits) - (length - 1))
        clauses.append(tail.in_(sorted(t for t in tails if len(t) == length)))
    return _any(clauses)


def _head_in(digits: ColumnElement, heads: set[str]) -> ColumnElement:
    """``digits`` starts with one of ``heads``: an IN list per head length."""
    clauses = []
    for length in sorted({len(h) for h in heads}):
        head = sa.func.substr(digits, 1, length)
        clauses.append(head.in_(sorted(h for h in heads if len(h) == length)))
    return _any(clauses)


def _phone(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    # Every surface form ends with the national significant number once the
    # punctuation is gone: +31612345678, 0612345678, 0031612345678, 310612345678.
    tails = {phonenumbers.national_significant_number(phonenumbers.parse(i.value)) for i in values}
    return _tail_in(digits_of(column), tails)


def _mac(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    bare = sa.func.lower(_strip(_text(column), _MAC_JUNK))
    return bare.in_([i.value for i in values])


def _imei(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    # IMEI (15), IMEISV (16) and IMEI without check digit (14) share the first 14.
    return _head_in(digits_of(column), {i.value[:14] for i in values})


def _iccid(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    # Stored with or without a trailing F pad; the Luhn digit is part of the value.
    return _head_in(digits_of(column), {i.value for i in values})


def _imsi(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    return digits_of(column).in_([i.value for i in values])


def _ip(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    forms: set[str] = set()
    for identifier in values:
        address = ipaddress.ip_address(identifier.value)
        forms.add(address.compressed)
        forms.add(address.exploded)
        if address.version == 4:
            forms.add(f"::ffff:{address.compressed}")
    return sa.func.lower(sa.func.trim(_text(column))).in_(sorted(forms))


def _postcode(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    compact = sa.func.upper(_strip(_text(column), (" ",)))
    return compact.in_([i.value for i in values])


# Letters that a stored name may carry with a diacritic (é, ç, ñ, ş, ÿ, ž …):
# in the LIKE pattern they become "_" so that "celik" still finds "Çelik" on
# databases whose LOWER() and LIKE do not fold accents.
_ACCENTABLE = set("aceinosuyzg")


def name_pattern(folded_name: str) -> str:
    """A LIKE pattern for a folded name: its longest word, accent-tolerant, escaped."""
    words = [word for word in folded_name.split() if word]
    longest = max(words, key=len)
    pattern = "".join(
        "_" if character in _ACCENTABLE else escape_like(character) for character in longest
    )
    return f"%{pattern}%"


def _name(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    lowered = sa.func.lower(_text(column))
    patterns = sorted({name_pattern(identifier.value) for identifier in values})
    return _any([lowered.like(pattern, escape=LIKE_ESCAPE) for pattern in patterns])


def _casefolded(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    return sa.func.lower(sa.func.trim(_text(column))).in_([i.value for i in values])


PREDICATES: dict[str, Callable[[ColumnElement, Sequence[Identifier]], ColumnElement]] = {
    "email": _email,
    "phone": _phone,
    "mac": _mac,
    "imei": _imei,
    "iccid": _iccid,
    "imsi": _imsi,
    "ip": _ip,
    "postcode": _postcode,
    "name": _name,
    "username": _casefolded,
    "account": _casefolded,
}


def candidate_predicate(
    kind: str, column: ColumnElement, values: Sequence[Identifier]
) -> ColumnElement:
    """The WHERE clause selecting candidate rows of ``column`` for these identifiers."""
    return PREDICATES[kind](column, values)
