"""``discover mappings scaffold``: a first mapping written from what a source holds.

The source is sampled without a mapping; each place's identifier type comes from its
values (:mod:`discover.discovery.detect`), keys and references from the database's
own constraints (or ``<table>_id`` names), entity kinds and register categories are
guessed from names. Every guess that may be wrong carries a ``# TODO`` comment: the
result validates and passes ``mappings check --live``, and an engineer reviews it.
A VoIP provisioning directory is scaffolded as ``extends`` of the shipped mapping.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.sampling import SECRET_NAME, SampledField, sampler
from discover.discovery.detect import detect
from discover.identifiers import IDENTIFIER_TYPES
from discover.sources import SourceConfig

#: (pattern on a table/file/entry name, register category, sure?) - the first that fits
CATEGORY_GUESSES: tuple[tuple[str, str, bool], ...] = (
    (r"recording|opname", "general.call_recordings", True),
    (r"ticket|support|incident|melding|case", "general.support", True),
    (r"invoice|billing|factu|payment|betaling", "general.billing", True),
    (r"cdr|call|traffic|verkeer|gesprek", "general.traffic_data", False),
    (r"keyholder|sleutel|alarm", "alarm.keyholder", True),
    (r"sim|msisdn", "mobile.sim", True),
    (r"notification|roaming|bundle|sms", "mobile.notifications", True),
    (r"handset|toestel|provision", "voip.handset", False),
    (r"device|inventory", "mobile.device", False),
    (r"line|internet|dsl|fib|connection|aansluiting", "internet.line", True),
    (r"web|login|session|analytic", "web.analytics", False),
    (
        r"organi[sz]ation|compan|bedrijf|client|address|site|locati",
        "general.service_address",
        False,
    ),
    (
        r"person|people|contact|user|customer|klant|employee|medewerker|member|staff",
        "general.contact",
        True,
    ),
    (r"directory|ldap|ldif", "managed_it.directory", True),
)
_ORGANISATION = re.compile(r"organi[sz]ation|compan|bedrijf|^clients?$|^accounts?$", re.I)
_PERSON = re.compile(
    r"person|people|contact|user|customer|klant|employee|member|staff|account", re.I
)
_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")
#: detected types that are discover identifier types
SEARCHABLE = frozenset(IDENTIFIER_TYPES)


@dataclass(slots=True)
class Column:
    """One column (attribute, header) as the scaffold writes it."""

    name: str
    options: dict[str, object] = field(default_factory=dict)
    comment: str | None = None


def guess_category(name: str) -> tuple[str, bool]:
    """The register category a place's name suggests, and whether the guess is sure."""
    lowered = name.casefold()
    for pattern, category, sure in CATEGORY_GUESSES:
        if re.search(pattern, lowered):
            return category, sure
    return "general.contact", False


def field_name(header: str) -> str:
    """A mapping field name (letters, digits, _) for a header or attribute."""
    name = _NAME_RE.sub("_", header.strip()).strip("_").lower() or "column"
    return f"c_{name}" if name[0].isdigit() else name


def column_options(place: SampledField, *, organisation: bool) -> Column:
    """What one sampled place becomes: its identifier type, secret, recorded_at."""
    column = Column(place.field)
    if place.secret or SECRET_NAME.search(place.field):
        column.options["secret"] = True
        return column
    found = detect(place.field, place.values)
    if organisation and found is not None and found.type == "name":
        found = None  # an organisation's name is not a person's
    if found is not None and found.type in SEARCHABLE:
        column.options["identifier"] = found.type
        if organisation and found.type == "phone":
            column.options["expand"] = False  # a switchboard is not one person's
        if found.type in ("ip", "postcode"):
            column.options["expand"] = False
        if found.by == "header":
            column.comment = "TODO: identifier guessed from the header only"
    elif found is not None:
        label = "special: a BSN" if found.special else f"holds {found.type} values"
        column.comment = f"TODO: {label}; not an identifier discover searches by"
    if place.temporal and "identifier" not in column.options:
        column.options["recorded_at"] = True
    return column


def _flow(options: dict[str, object]) -> str:
    if not options:
        return "{}"
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in options.items()) + "}"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", text) and text.lower() not in (
        "true",
        "false",
        "null",
        "yes",
        "no",
        "on",
        "off",
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def _line(indent: int, text: str, comment: str | None = None) -> str:
    return " " * indent + text + (f"   # {comment}" if comment else "")


# -- SQL ---------------------------------------------------------------------------------


def _table_of(column: str, tables: Sequence[str]) -> str | None:
    """The table a ``<name>_id`` column refers to by its name, if exactly one fits."""
    if not column.lower().endswith("_id"):
        return None
    stem = column[:-3].lower()
    fits = []
    for table in tables:
        lowered = table.lower()
        singular = lowered[:-1] if lowered.endswith("s") else lowered
        if (
            stem in (lowered, singular)
            or stem.endswith("_" + singular)
            or lowered.endswith("_" + stem + "s")
        ):
            fits.append(table)
    return fits[0] if len(fits) == 1 else None


def scaffold_sql(places: Sequence[SampledField], *, description: str) -> str:
    """A SQL mapping: every table with a key, its columns, relations by constraint or name."""
    tables: dict[str, list[SampledField]] = defaultdict(list)
    for place in places:
        tables[place.location].append(place)
    lines = ["version: 1", "kind: sql", f"description: {_scalar(description)}", "tables:"]
    relations: list[tuple[str, str, str]] = []
    entities: dict[str, str] = {}
    for table, columns in tables.items():
        entities[table] = (
            "organisation"
            if _ORGANISATION.search(table)
            else "person"
            if _PERSON.search(table)
            else "event"
        )
        for column in columns:
            target = column.references
            if target is None:
                referred = _table_of(column.field, list(tables))
                target = f"{referred}.id" if referred and referred != table else None
            if target is not None:
                relations.append((f"{table}.{column.field}", target, target.split(".")[0]))
    for table, columns in tables.items():
        key = [c.field for c in columns if c.key] or [
            c.field for c in columns if c.field.lower() == "id"
        ]
        if not key:
            lines.append(f"  # {table}: left out, it has no primary key nor an 'id' column")
            continue
        category, sure = guess_category(table)
        entity = entities[table]
        lines.append(f"  {_scalar(table)}:")
        lines.append(f"    key: {_scalar(key[0]) if len(key) == 1 else json.dumps(key)}")
        lines.append(
            _line(4, f"category: {category}", None if sure else "TODO: guessed from the name")
        )
        if entity != "person":
            lines.append(_line(4, f"entity: {entity}", "TODO: guessed from the name"))
        lines.append("    columns:")
        dated = False
        for place in columns:
            column = column_options(place, organisation=entity == "organisation")
            if column.options.get("recorded_at"):
                if dated:
                    del column.options["recorded_at"]
                dated = True
            lines.append(
                _line(6, f"{_scalar(place.field)}: {_flow(column.options)}", column.comment)
            )
    written = {t for t, cs in tables.items() if any(c.key or c.field.lower() == "id" for c in cs)}
    usable = [r for r in relations if r[0].split(".")[0] in written and r[2] in written]
    people = [r for r in usable if entities[r[0].split(".")[0]] == entities[r[2]] == "person"]
    followed = [r for r in usable if r not in people]
    if followed:
        lines.append("relations:")
    for source, target, referred in followed:
        # to an organisation: fetch it for a found row; else fetch the rows that refer
        # to a found one (a contact's tickets)
        follow = "forward" if entities[referred] == "organisation" else "backward"
        lines.append(f"  - {{from: {source}, to: {target}, follow: {follow}}}")
    for source, target, _referred in people:
        lines.append(
            f"# TODO: {source} -> {target} links two tables of people; add it with "
            "follow: forward or backward only if one's records belong to the other's subject"
        )
    return "\n".join(lines) + "\n"


# -- tabular -----------------------------------------------------------------------------


def scaffold_tabular(places: Sequence[SampledField], *, description: str) -> str:
    """A tabular mapping for the first sheet's headers (others noted), header row 1."""
    locations = list(dict.fromkeys(p.location for p in places))
    first = [p for p in places if p.location == (locations[0] if locations else None)]
    category, sure = guess_category(" ".join(locations))
    lines = ["version: 1", "kind: tabular", f"description: {_scalar(description)}"]
    lines.append("read:")
    lines.append(_line(2, "header_row: 1", "TODO: the row of the header, as the sheet numbers it"))
    lines.append(_line(0, f"category: {category}", None if sure else "TODO: guessed from the name"))
    if len(locations) > 1:
        others = ", ".join(locations[1:])
        lines.append(f"# TODO: also sampled, with other headers: {others}")
    lines.append("columns:")
    headers: list[tuple[str, str]] = []
    used: set[str] = set()
    for place in first:
        name = field_name(place.field)
        while name in used:
            name += "_"
        used.add(name)
        column = column_options(place, organisation=False)
        column.options.pop("recorded_at", None)
        lines.append(_line(2, f"{name}: {_flow(column.options)}", column.comment))
        if name != place.field:
            headers.append((name, place.field))
    if headers:
        lines.append("headers:")
        lines.extend(f"  {name}: {_scalar(header)}" for name, header in headers)
    return "\n".join(lines) + "\n"


# -- directory ---------------------------------------------------------------------------

_BINARY = {"jpegphoto", "photo", "usercertificate", "objectguid", "objectsid", "thumbnailphoto"}
_PEOPLE = re.compile(r"person|user|inetorgperson|organizationalperson|contact", re.I)
_GROUPS = re.compile(r"group", re.I)


def scaffold_directory(places: Sequence[SampledField], *, kind: str, description: str) -> str:
    """A directory mapping: one entry type per object class seen, every text attribute."""
    by_class: dict[str, list[SampledField]] = defaultdict(list)
    for place in places:
        by_class[place.location].append(place)
    lines = [
        "version: 1",
        "kind: ldap"
        + ("   # LDIF exports are read with the directory's mapping" if kind == "ldif" else ""),
        f"description: {_scalar(description)}",
        "entries:",
    ]
    names: set[str] = set()
    for location, attributes in by_class.items():
        object_class = location.partition("=")[2]
        if not object_class or not any(
            detect(a.field, a.values) for a in attributes if a.field != "dn"
        ):
            continue  # organisational units and the like: no personal data
        name = (
            "people"
            if _PEOPLE.search(object_class)
            else "groups"
            if _GROUPS.search(object_class)
            else field_name(object_class)
        )
        while name in names:
            name += "_"
        names.add(name)
        fields = {a.field for a in attributes}
        key = "entryUUID" if "entryuuid" in fields else None
        lines.append(f"  {name}:")
        lines.append(f"    object_classes: [{object_class}]")
        if key:
            lines.append(f"    key: {key}")
        lines.append("    category: managed_it.directory")
        lines.append("    attributes:")
        for attribute in attributes:
            if (
                attribute.field == "dn"
                or attribute.field in _BINARY
                or not (attribute.values or attribute.secret)
            ):
                continue
            column = column_options(attribute, organisation=False)
            column.options.pop("recorded_at", None)
            lines.append(_line(6, f"{attribute.field}: {_flow(column.options)}", column.comment))
    return "\n".join(lines) + "\n"


def scaffold_voip(source: SourceConfig) -> str:
    """A provisioning mapping: the shipped one, extended (formats are vendors', not sites')."""
    return (
        "version: 1\n"
        "kind: voip\n"
        "# The shipped mapping knows the vendors' formats; override what differs here,\n"
        "# e.g. files: {include: [...], exclude: [...]} or scope: {from: none}.\n"
        "extends: shipped:voip/provisioning.yaml\n"
        f"description: {_scalar('Provisioning directory ' + source.name)}\n"
    )


def scaffold(kind: str, source: SourceConfig, *, rows: int = 200) -> str:
    """The text of a first mapping of kind ``kind`` for ``source`` (sampled without one)."""
    description = (
        source.description or f"{kind} source {source.name} (scaffolded: review the TODOs)"
    )
    if kind == "voip":
        return scaffold_voip(source)
    places = sampler(kind)(source, None, rows)
    if kind == "sql":
        return scaffold_sql(places, description=description)
    if kind == "tabular":
        return scaffold_tabular(places, description=description)
    return scaffold_directory(places, kind=kind, description=description)
