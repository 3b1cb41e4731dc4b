"""LDAP search filters (RFC 4515) for a set of identifiers, every value escaped.

A directory compares strings with its own matching rules: OpenLDAP's
``telephoneNumber`` ignores spaces and dashes, Active Directory's attributes ignore
case but not spaces, names are stored with accents. So the filter ORs, per mapped
attribute, the spellings a directory commonly stores (``surface_forms``), the
approximate match (``~=``) for names, and the prefixed forms that Active Directory
uses (``smtp:`` proxy addresses, ``tel:`` URIs). A phone number is asked for by a
substring of its last digits (every spelling holds them in order), not by a list
of spellings that is never complete. Every value goes through
ldap3's ``escape_filter_chars``: ``*``, ``(``, ``)``, ``\\`` and NUL only ever
match themselves. Attribute and object class names come from the schema-checked
mapping (letters, digits, dashes), never from the request.

Candidates the server returns are always verified after normalisation, so a
spelling too many costs a candidate, never a false match.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import phonenumbers
from ldap3.utils.conv import escape_filter_chars

from connectors.directory.mapping import LdapAttribute, LdapEntryType
from discover.identifiers import Identifier, surface_forms


def escape(value: str) -> str:
    """RFC 4515 escaping of an assertion value (ldap3's escape_filter_chars)."""
    return escape_filter_chars(value)


def _equal(attribute: str, value: str) -> str:
    return f"({attribute}={escape(value)})"


def _approx(attribute: str, value: str) -> str:
    return f"({attribute}~={escape(value)})"


def _initial(attribute: str, value: str) -> str:
    return f"({attribute}={escape(value)}*)"


def name_orders(folded: str) -> list[str]:
    """A folded name and its 'family, given' orders: 'jan de vries' -> 'vries, jan de' …"""
    words = folded.split()
    orders = [folded]
    for split in range(1, len(words)):
        orders.append(f"{' '.join(words[split:])}, {' '.join(words[:split])}")
    return orders


#: how many trailing digits of the national number the phone filter asks for
SUFFIX_DIGITS = 8


def phone_suffix(identifier: Identifier) -> str:
    """The last digits of the national significant number: '+31653760481' -> '53760481'.

    Every spelling a directory may hold ('(06) 53760481', '+31 (0)6-5376 0481',
    '06/53760481', '0031653760481', '06 53 76 04 81') holds these digits in this
    order, whatever stands between them.
    """
    number = phonenumbers.parse(identifier.value)
    national = phonenumbers.national_significant_number(number)
    return national[-SUFFIX_DIGITS:]


def phone_substring(attribute: str, identifier: Identifier) -> str:
    """``(mobile=*5*3*7*6*0*4*8*1*)``: the suffix's digits in order, anything between.

    OpenLDAP's telephoneNumber ignores spaces and dashes, Active Directory's string
    attributes ignore neither: a component per digit matches every grouping and
    separator on both. The filter finds candidates only; each is verified after
    normalisation, so it can never widen a result.
    """
    digits = phone_suffix(identifier)
    return f"({attribute}=*{'*'.join(escape(d) for d in digits)}*)"


def attribute_terms(attribute: LdapAttribute, identifier: Identifier) -> list[str]:
    """The filter components that find ``identifier`` stored in ``attribute``."""
    name = attribute.name
    kind = identifier.type
    if kind == "name":
        # Equality catches the plain spelling; the approximate match (~=) folds
        # accents on OpenLDAP ('zoe celik' finds 'Zoë Çelik') and word order.
        orders = name_orders(identifier.value)
        return [_equal(name, identifier.value), *(_approx(name, order) for order in orders)]
    transform = attribute.transform
    if kind == "phone" and transform is None:
        return [phone_substring(name, identifier)]
    forms = surface_forms(identifier)
    if transform is None:
        return [_equal(name, form) for form in forms]
    if transform == "proxy_address":
        return [_equal(name, f"{prefix}:{form}") for form in forms for prefix in ("smtp", "sip")]
    if transform == "tel_uri":
        return [_equal(name, f"tel:{identifier.value}"), _initial(name, f"tel:{identifier.value};")]
    if transform == "sip_uri":
        if kind == "phone":
            return [
                _equal(name, f"sip:{identifier.value}"),
                _initial(name, f"sip:{identifier.value}@"),
                _initial(name, f"sip:{identifier.value};"),
            ]
        return [_equal(name, f"sip:{form}") for form in forms]
    raise ValueError(f"unknown transform {transform!r}")


def class_filter(entry_type: LdapEntryType) -> str:
    """The object-class part: any of the classes, none of the excluded ones."""
    classes = [f"(objectClass={escape(c)})" for c in entry_type.object_classes]
    part = classes[0] if len(classes) == 1 else f"(|{''.join(classes)})"
    excluded = "".join(f"(!(objectClass={escape(c)}))" for c in entry_type.exclude_object_classes)
    return f"(&{part}{excluded})" if excluded else part


def combine(entry_type: LdapEntryType, terms: Sequence[str]) -> str:
    """``(&(classes)(|terms))``: one filter for a chunk of terms."""
    alternatives = terms[0] if len(terms) == 1 else f"(|{''.join(terms)})"
    return f"(&{class_filter(entry_type)}{alternatives})"


def identifier_terms(
    entry_type: LdapEntryType, identifiers: Iterable[Identifier]
) -> Iterator[list[str]]:
    """Per identifier, its terms over every searchable attribute of its type."""
    by_type: dict[str, list[LdapAttribute]] = {}
    for attribute in entry_type.searchable:
        by_type.setdefault(str(attribute.spec.identifier), []).append(attribute)
    for identifier in identifiers:
        terms: list[str] = []
        for attribute in by_type.get(identifier.type, []):
            terms.extend(attribute_terms(attribute, identifier))
        if terms:
            yield list(dict.fromkeys(terms))


def search_filters(
    entry_type: LdapEntryType, identifiers: Iterable[Identifier], *, max_terms: int
) -> list[str]:
    """Filters for all identifiers: one for a single subject, OR-chunks for many.

    A chunk holds whole identifiers (all spellings of one identifier stay together)
    and at most ``max_terms`` components, unless one identifier alone needs more.
    """
    filters: list[str] = []
    chunk: list[str] = []
    for terms in identifier_terms(entry_type, identifiers):
        if chunk and len(chunk) + len(terms) > max_terms:
            filters.append(combine(entry_type, chunk))
            chunk = []
        chunk.extend(terms)
    if chunk:
        filters.append(combine(entry_type, chunk))
    return filters


def dn_filters(
    entry_type: LdapEntryType, attributes: Sequence[str], dns: Sequence[str], *, max_terms: int
) -> list[str]:
    """Filters finding entries whose DN-valued ``attributes`` hold one of ``dns``.

    All attributes go into one filter (``member`` and ``uniqueMember`` of a group
    type cost one search, not two), OR-chunked at ``max_terms`` components.
    """
    terms = [_equal(attribute, dn) for dn in dns for attribute in attributes]
    return [
        combine(entry_type, terms[start : start + max_terms])
        for start in range(0, len(terms), max_terms)
    ]
