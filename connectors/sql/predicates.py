"""Candidate predicates: how each identifier type is searched inside the database.

Sources store identifiers in any surface format ("06-1234 5678", "Jan@Example.NL",
"00:15:65:AB:CD:EF", 316… as a BIGINT). A predicate rewrites the stored value with
portable SQL functions (REPLACE, LOWER, TRIM, SUBSTR work on SQLite, PostgreSQL and
MariaDB alike) into a form that every spelling of one identifier shares, and compares
it with values derived from the normalised identifier, always through bound
parameters and mostly with ``IN`` lists, which the databases hash or index, so that a
batch of thousands of identifiers costs one pass over the table, not one per
identifier.

The contract: a predicate may select a few candidates too many (a foreign number with
the same national digits, a case-insensitive collation); the connector verifies every
candidate after normalisation and drops those. It must never miss a row whose value
normalises to the identifier in the formats listed per type below, and the
identifier's own characters can never widen it: values are bound parameters, and the
few LIKE patterns escape ``%``, ``_`` and the escape character.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from discover.identifiers import Identifier, fold_text

LIKE_ESCAPE = "/"
_LINE_JUNK = ("\t", "\n", "\r")
_PHONE_JUNK = (" ", "-", "(", ")", "+", ".", "/")
_MAC_JUNK = (":", "-", ".", " ", *_LINE_JUNK)
_EXTENSION_JUNK = (" ", "-", ".", *_LINE_JUNK)
#: name of the SQLite function the connector registers on each connection
SQLITE_FOLD = "discover_fold"


# -- dialect-specific pieces ------------------------------------------------------------


def _const(text: str) -> ColumnElement:
    """One of our own constants, written into the SQL rather than bound.

    The expressions that rewrite a stored value must be spelled exactly as an
    expression index on them is, so their constants are literals; only the values
    derived from the identifier are bound parameters.
    """
    return sa.literal(text, sa.String(), literal_execute=True)


def _int(number: int) -> ColumnElement:
    return sa.literal(int(number), sa.Integer(), literal_execute=True)


class as_text(FunctionElement):
    """The value as text, for string functions.

    PostgreSQL needs an explicit cast (``lower(bigint)`` does not exist) and drops it
    again for text columns, so expression indexes on ``lower(trim(email))`` still
    apply. SQLite and MariaDB convert numbers to text by themselves; leaving the
    column bare keeps their expression matching (SQLite indexes on expressions) intact.
    """

    type = sa.String()
    inherit_cache = True
    name = "as_text"


@compiles(as_text)
def _as_text_default(element: as_text, compiler: Any, **kw: Any) -> str:
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(as_text, "postgresql")
def _as_text_postgresql(element: as_text, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(next(iter(element.clauses)), **kw)} AS VARCHAR)"


class right_chars(FunctionElement):
    """The last ``n`` characters (not bytes): ``substr(x, -n)``, ``right(x, n)`` on PostgreSQL.

    Counting from the end keeps a non-ASCII prefix ("☎ 06…") from shifting the
    position, which ``length()`` (bytes on MariaDB) would.
    """

    type = sa.String()
    inherit_cache = True
    name = "right_chars"


def _right_parts(element: right_chars, compiler: Any, **kw: Any) -> tuple[str, int]:
    text, count = list(element.clauses)
    return compiler.process(text, **kw), int(compiler.process(count, **kw))


@compiles(right_chars)
def _right_default(element: right_chars, compiler: Any, **kw: Any) -> str:
    text, count = _right_parts(element, compiler, **kw)
    return f"substr({text}, -{count})"


@compiles(right_chars, "postgresql")
def _right_postgresql(element: right_chars, compiler: Any, **kw: Any) -> str:
    text, count = _right_parts(element, compiler, **kw)
    return f"right({text}, {count})"


def _right(expression: ColumnElement, count: int) -> ColumnElement:
    # The count is ours (a length), rendered inline so the expression stays one shape.
    return right_chars(expression, sa.text(str(int(count))))


class strip_space(FunctionElement):
    """The value without surrounding spaces, tabs, carriage returns and newlines.

    The normaliser strips surrounding white space (a CSV cell's trailing newline), so
    the database must too; plain ``trim()`` only removes spaces. PostgreSQL
    ``btrim(x, E' \\t\\n\\r')`` and SQLite ``trim(x, char(32, 9, 10, 13))`` are one
    indexable call; MariaDB (no expression indexes) removes tabs and line breaks
    anywhere (a value with one inside is refused by the normaliser anyway) and trims.
    """

    type = sa.String()
    inherit_cache = True
    name = "strip_space"


@compiles(strip_space)
def _strip_space_default(element: strip_space, compiler: Any, **kw: Any) -> str:
    inner = _strip(as_text(next(iter(element.clauses))), _LINE_JUNK)
    return compiler.process(sa.func.trim(inner), **kw)


@compiles(strip_space, "postgresql")
def _strip_space_postgresql(element: strip_space, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(as_text(next(iter(element.clauses))), **kw)
    return f"btrim({inner}, E' \\t\\n\\r')"


@compiles(strip_space, "sqlite")
def _strip_space_sqlite(element: strip_space, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(next(iter(element.clauses)), **kw)
    return f"trim({inner}, char(32, 9, 10, 13))"


class email_key(FunctionElement):
    """The address an e-mail column holds, lower-cased: the one expression to index.

    Surrounding white space goes, and a display form ``Jan de Vries <Jan@Example.NL>``
    (exactly one ``<``, a ``>`` at the end and nowhere else, as the normaliser reads
    it) gives the part between the brackets. Searching compares this one expression
    with an ``IN`` list, so an expression index on it (see :func:`index_expression`)
    turns a search into an index lookup.
    """

    type = sa.String()
    inherit_cache = True
    name = "email_key"


def _email_key(
    element: email_key,
    compiler: Any,
    position: str,
    between: Callable[[ColumnElement, Callable[..., ColumnElement]], ColumnElement],
    **kw: Any,
) -> str:
    """lower(stripped value), or of the part in brackets for a display form.

    The first branch (no ``<`` at all: nearly every row) costs one character search
    more than ``lower(trim(email))``; only rows with a ``<`` pay for the rest.
    """
    column = next(iter(element.clauses))
    find = getattr(sa.func, position)
    stored = strip_space(column)
    display = sa.and_(
        stored.like(_const("%<%>")),
        sa.not_(stored.like(_const("%<%<%"))),
        sa.not_(stored.like(_const("%>%>"))),
    )
    # lower() outermost: a function call, which PostgreSQL indexes without extra brackets
    key = sa.case(
        (find(column, _const("<")) == _int(0), stored),
        (display, strip_space(between(stored, find))),
        else_=stored,
    )
    return compiler.process(sa.func.lower(key), **kw)


def _between_substr(stored: ColumnElement, find: Callable[..., ColumnElement]) -> ColumnElement:
    after = sa.func.substr(stored, find(stored, _const("<")) + _int(1))
    return sa.func.rtrim(after, _const(">"))


def _between_mysql(stored: ColumnElement, _find: Callable[..., ColumnElement]) -> ColumnElement:
    return sa.func.substring_index(
        sa.func.substring_index(stored, _const("<"), _int(-1)), _const(">"), _int(1)
    )


@compiles(email_key)
def _email_key_default(element: email_key, compiler: Any, **kw: Any) -> str:
    return _email_key(element, compiler, "instr", _between_substr, **kw)


@compiles(email_key, "postgresql")
def _email_key_postgresql(element: email_key, compiler: Any, **kw: Any) -> str:
    return _email_key(element, compiler, "strpos", _between_substr, **kw)


@compiles(email_key, "mysql")
@compiles(email_key, "mariadb")
def _email_key_mysql(element: email_key, compiler: Any, **kw: Any) -> str:
    return _email_key(element, compiler, "instr", _between_mysql, **kw)


@cache
def _accent_table() -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Latin letters with diacritics and what :func:`fold_text` makes of them.

    Single letters go into one ``translate()``; the few that fold to two letters
    (ß -> ss, Ĳ -> ij) into ``replace()``.
    """
    source, target, pairs = [], [], []
    for code in range(0xC0, 0x250):
        character = chr(code)
        if not unicodedata.category(character).startswith("L"):
            continue
        folded = fold_text(character)
        if folded == character.lower() or not folded.isascii():
            continue
        if len(folded) == 1:
            source.append(character)
            target.append(folded)
        else:
            pairs.append((character, folded))
    return "".join(source), "".join(target), tuple(pairs)


class folded_text(FunctionElement):
    """Case- and accent-folded text, as close to :func:`fold_text` as each database gets.

    SQLite: the connector's registered function (fold_text itself). PostgreSQL:
    ``translate()`` of the Latin letters with diacritics, then ``lower()``. MariaDB:
    ``lower()``; its ``_ci`` collations already compare accents and case loosely.
    """

    type = sa.String()
    inherit_cache = True
    name = "folded_text"


@compiles(folded_text)
def _folded_default(element: folded_text, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(next(iter(element.clauses)), **kw)})"


@compiles(folded_text, "sqlite")
def _folded_sqlite(element: folded_text, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_FOLD}({compiler.process(next(iter(element.clauses)), **kw)})"


@compiles(folded_text, "postgresql")
def _folded_postgresql(element: folded_text, compiler: Any, **kw: Any) -> str:
    source, target, pairs = _accent_table()
    expression: ColumnElement = as_text(next(iter(element.clauses)))
    for character, folded in pairs:
        expression = sa.func.replace(
            expression, sa.literal_column(f"'{character}'"), sa.literal_column(f"'{folded}'")
        )
    expression = sa.func.translate(
        expression, sa.literal_column(f"'{source}'"), sa.literal_column(f"'{target}'")
    )
    return compiler.process(sa.func.lower(expression), **kw)


# -- shared helpers ---------------------------------------------------------------------


def _strip(expression: ColumnElement, characters: Sequence[str]) -> ColumnElement:
    for character in characters:
        expression = sa.func.replace(expression, _const(character), _const(""))
    return expression


@lru_cache(maxsize=1024)  # per column: built once, reused by every search
def digits_of(column: ColumnElement) -> ColumnElement:
    """The column without phone-number punctuation (spaces, dashes, brackets, +, dots,
    slashes) and without surrounding tabs and line ends (inside a value they make it
    no identifier: the normaliser refuses control characters)."""
    return _strip(strip_space(column), _PHONE_JUNK)


@lru_cache(maxsize=1024)
def trimmed_lower(column: ColumnElement) -> ColumnElement:
    """``lower(<column without surrounding white space>)``: accounts, user names, IPs."""
    return sa.func.lower(strip_space(column))


def escape_like(text: str) -> str:
    """Escape LIKE metacharacters so that user text only ever matches itself."""
    for character in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(character, LIKE_ESCAPE + character)
    return text


def _like(expression: ColumnElement, pattern: str) -> ColumnElement:
    return expression.like(pattern, escape=LIKE_ESCAPE)


def _any(clauses: list[ColumnElement]) -> ColumnElement:
    return sa.or_(*clauses) if len(clauses) > 1 else clauses[0]


def _wildcard_non_ascii(text: str) -> str:
    """A LIKE pattern for ``text`` where each non-ASCII character matches any one character.

    SQLite's lower() folds ASCII only; "JÖRG" stays "jÖrg" there, so "jörg" is looked
    for as "j_rg" and the candidate verified after normalisation.
    """
    return "".join(ch if ch.isascii() else "_" for ch in escape_like(text))


def _folded_in(expression: ColumnElement, values: Iterable[str]) -> ColumnElement:
    """``expression IN values``; values with non-ASCII characters also as a LIKE pattern."""
    values = sorted(set(values))
    clauses = [expression.in_(values)]
    clauses += [_like(expression, _wildcard_non_ascii(v)) for v in values if not v.isascii()]
    return _any(clauses)


def _tail_in(expression: ColumnElement, tails: Iterable[str]) -> ColumnElement:
    """``expression`` ends with one of ``tails``: an IN list per tail length (hash-friendly)."""
    tails = set(tails)
    return _any(
        [
            _right(expression, length).in_(sorted(t for t in tails if len(t) == length))
            for length in sorted({len(t) for t in tails})
        ]
    )


def _head_in(expression: ColumnElement, heads: Iterable[str]) -> ColumnElement:
    """``expression`` starts with one of ``heads``: an IN list per head length."""
    heads = set(heads)
    return _any(
        [
            sa.func.substr(expression, _int(1), _int(length)).in_(
                sorted(h for h in heads if len(h) == length)
            )
            for length in sorted({len(h) for h in heads})
        ]
    )


# -- one predicate per identifier type --------------------------------------------------


@lru_cache(maxsize=4096)
def _email_spellings(value: str) -> frozenset[str]:
    """The address as written, and with its domain in IDNA (punycode) form."""
    spellings = {value}
    local, _, domain = value.rpartition("@")
    with contextlib.suppress(UnicodeError):
        spellings.add(f"{local}@{domain.encode('idna').decode('ascii')}")
    return frozenset(spellings)


def _email_forms(values: Sequence[Identifier]) -> set[str]:
    addresses = {s for i in values for s in _email_spellings(i.value)}
    return {p + a + d for a in addresses for p in ("", "mailto:") for d in ("", ".")}


def _email(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """Any case, surrounding white space, ``mailto:``, a trailing dot on the domain, a
    punycode domain, and the display form ``Jan de Vries <jan@example.nl>``."""
    return _folded_in(email_key(column), _email_forms(values))


def _phone(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """Every spelling whose digits end with the national significant number.

    +31612345678, 06-1234 5678, 0031 6 1234 5678, +31 (0)6 12345678, 316… as text or
    BIGINT, tel:+31…: once the punctuation is gone they all end with 612345678.
    """
    tails = {phonenumbers.national_significant_number(phonenumbers.parse(i.value)) for i in values}
    return _tail_in(digits_of(column), tails)


def _mac_unpadded(bare: str, separator: str) -> str:
    return separator.join(format(int(bare[i : i + 2], 16), "x") for i in range(0, 12, 2))


def _mac(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """Colon, dash, Cisco-dot and bare notations in any case; unpadded ``0:15:65:ab:cd:1``."""
    bare = sa.func.lower(_strip(as_text(column), _MAC_JUNK))
    unpadded = {_mac_unpadded(i.value, sep) for i in values for sep in (":", "-")}
    unpadded -= {i.value for i in values}
    clauses = [bare.in_(sorted({i.value for i in values}))]
    clauses.append(trimmed_lower(column).in_(sorted(unpadded)))
    return _any(clauses)


def _imei(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """IMEI (15 digits), IMEISV (16) and IMEI without check digit (14) share the first 14."""
    return _head_in(digits_of(column), {i.value[:14] for i in values})


def _iccid(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """Digits with or without a trailing F pad, spaces or dashes."""
    return _head_in(digits_of(column), {i.value for i in values})


def _imsi(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    return digits_of(column).in_(sorted({i.value for i in values}))


def _ip(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """Compressed and exploded IPv6, IPv4-mapped IPv6, zero-padded IPv4, in brackets."""
    return trimmed_lower(column).in_(sorted(_ip_forms(values)))


def _ip_forms(values: Sequence[Identifier]) -> set[str]:
    forms: set[str] = set()
    for identifier in values:
        address = ipaddress.ip_address(identifier.value)
        spellings = {address.compressed, address.exploded}
        if address.version == 4:
            mapped = ipaddress.IPv6Address(f"::ffff:{address}")
            padded = ".".join(f"{int(octet):03d}" for octet in str(address).split("."))
            spellings |= {f"::ffff:{address}", mapped.exploded, mapped.compressed, padded}
        forms |= spellings | {f"[{s}]" for s in spellings}
    return forms


def _postcode(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """``2289 BA``, ``2289ba``, ``2289-BA``, ``NL-2289 BA``."""
    compact = sa.func.upper(_strip(as_text(column), (" ", "-", *_LINE_JUNK)))
    return compact.in_(sorted({p + i.value for i in values for p in ("", "NL")}))


def name_words(folded_name: str) -> list[str]:
    """Pieces of a folded name that every stored spelling of it contains.

    The normaliser turns hyphens, dots and commas into spaces and every apostrophe
    into ``'``, so the stored name holds each piece between those characters.
    """
    return sorted({word for word in re.split(r"[\s']+", folded_name) if word})


def _name(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """Every word of the name somewhere in the folded stored name (any order, any case).

    "Vries, Jan de", "JAN DE VRIES" and "Jan.de.Vries" all hold "jan", "de" and
    "vries"; folding accents in the database lets "Çelik" hold "celik".
    """
    folded = folded_text(column)
    return _any(
        [
            sa.and_(*[_like(folded, f"%{_wildcard_non_ascii(w)}%") for w in name_words(i.value)])
            for i in sorted(set(values))
        ]
    )


def _username(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    r"""Any case and surrounding spaces; also ``DOMAIN\user``."""
    stored = trimmed_lower(column)
    names = {i.value for i in values}
    clauses = [_folded_in(stored, names)]
    qualified = {"\\" + name for name in names if name.isascii()}
    if qualified:
        clauses.append(_tail_in(stored, qualified))
    return _any(clauses)


def _casefolded(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    return _folded_in(trimmed_lower(column), {i.value for i in values})


def _extension(column: ColumnElement, values: Sequence[Identifier]) -> ColumnElement:
    """``acme/201``, ``ACME / 2-01``, ``201`` (also as an integer column)."""
    stored = sa.func.lower(_strip(as_text(column), _EXTENSION_JUNK))
    wanted = set()
    for identifier in values:
        text = identifier.value
        for character in _EXTENSION_JUNK:
            text = text.replace(character, "")
        wanted.add(text)
    return stored.in_(sorted(wanted))


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
    "username": _username,
    "account": _casefolded,
    "extension": _extension,
}


#: the national significant number's length of the numbers a phone index serves
#: (9 for every Dutch number); other lengths are searched without the index
PHONE_INDEX_DIGITS = 9


def index_expression(kind: str, column: ColumnElement) -> ColumnElement | None:
    """The expression to index so that searches for ``kind`` in ``column`` use the index.

    ``sa.Index("ix_contacts_email", index_expression("email", contacts.c.email))``
    creates it through SQLAlchemy, spelled exactly as the search spells it
    (PostgreSQL and SQLite match expression indexes structurally; MariaDB has none).
    None for types whose search has no single indexable expression.
    """
    if kind == "email":
        return email_key(column)
    if kind == "phone":
        return _right(digits_of(column), PHONE_INDEX_DIGITS)
    if kind in ("account", "ip"):
        return trimmed_lower(column)
    if kind == "imsi":
        return digits_of(column)
    return None


def candidate_predicate(
    kind: str, column: ColumnElement, values: Sequence[Identifier]
) -> ColumnElement:
    """The WHERE clause selecting candidate rows of ``column`` for these identifiers."""
    return PREDICATES[kind](column, values)


def text_forms(kind: str, values: Sequence[Identifier]) -> set[str]:
    """The lower-case forms the predicate of a text type compares a stored value with.

    A column profile (:mod:`connectors.sql.profile`) writes these in the column's
    own patterns (surrounding white space, upper case) to search it with ``IN``.
    """
    if kind == "email":
        return _email_forms(values)
    if kind == "ip":
        return _ip_forms(values)
    return {i.value for i in values}


def spellings_in(column: ColumnElement, spellings: Sequence[Any]) -> ColumnElement:
    """``column IN spellings``: exact comparisons that a plain index on the column serves."""
    return column.in_(list(spellings)) if spellings else sa.false()
