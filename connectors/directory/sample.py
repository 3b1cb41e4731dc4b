"""Sampling a directory: every attribute of every kind of entry, from LDIF or a live LDAP.

Entries are grouped by the mapping's entry type they belong to (by object class), or
else by their most specific object class; each attribute keeps up to N values.
Binary values (photos, GUIDs, hashes) are not text and are left out of the sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from connectors.directory.ldif_reader import LdifError, read_ldif
from connectors.directory.mapping import LdapMapping
from connectors.directory.values import RawEntry, object_classes, raw_entry
from connectors.sampling import SampledField, finish
from discover.errors import SourceError
from discover.sources import Settings, SourceConfig

#: attributes that describe the entry's structure, not a person
_STRUCTURAL = frozenset(
    {"objectclass", "structuralobjectclass", "entrycsn", "creatorsname", "modifiersname"}
)


def _entry_type(model: LdapMapping | None, classes: set[str]) -> str:
    if model is not None:
        for entry_type in model.entries.values():
            wanted = {c.lower() for c in entry_type.object_classes}
            excluded = {c.lower() for c in entry_type.exclude_object_classes}
            if wanted and wanted <= classes and not excluded & classes:
                return entry_type.name
    known = sorted(classes - {"top"})
    return f"objectClass={known[-1]}" if known else "(no objectClass)"


def _text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not text or any(ord(c) < 32 and c not in "\t" for c in text):
        return None
    return text


def collect(
    entries: Iterable[tuple[str, RawEntry]], model: LdapMapping | None, rows: int
) -> list[SampledField]:
    """The sampled attributes of ``entries`` ((DN, raw attributes) pairs)."""
    places: dict[tuple[str, str], SampledField] = {}
    counts: dict[str, int] = {}
    for dn, entry in entries:
        location = _entry_type(model, object_classes(entry))
        if counts.get(location, 0) >= rows:
            continue
        counts[location] = counts.get(location, 0) + 1
        mapped = model.entries[location].attributes if model and location in model.entries else {}
        for name, values in {"dn": [dn.encode("utf-8")], **entry}.items():
            if name in _STRUCTURAL:
                continue
            place = places.get((location, name))
            if place is None:
                attribute = mapped.get(name)
                spec = attribute.spec if attribute is not None else None
                verbatim = attribute is None or (attribute.transform, attribute.binary) == (
                    None,
                    None,
                )
                if name == "dn" and model and location in model.entries:
                    spec = model.entries[location].dn_spec
                place = places[(location, name)] = SampledField(
                    location,
                    name,
                    mapped=spec.name if spec is not None else None,
                    declared=spec.identifier if spec is not None else None,
                    secret=bool(spec is not None and spec.secret),
                    verbatim=verbatim,
                )
            if not place.secret:  # a secret's values are never sampled
                place.values.extend(t for v in values if (t := _text(v)) is not None)
    return finish(list(places.values()))


def _ldif_entries(source: SourceConfig) -> Iterator[tuple[str, RawEntry]]:
    raw = source.connection.get("path")
    if not raw:
        raise SourceError(source.name, "connection.path (the LDIF file) is not set")
    path = Path(str(raw)).expanduser()
    path = path if path.is_absolute() else source.base_dir / path
    if not path.is_file():
        raise SourceError(source.name, f"LDIF file {path} does not exist")
    try:
        for entry in read_ldif(path):
            yield entry.dn, entry.attributes
    except (LdifError, OSError) as exc:
        raise SourceError(source.name, f"cannot read {path}: {exc}") from None


def _ldap_entries(source: SourceConfig, model: Any, rows: int) -> Iterator[tuple[str, RawEntry]]:
    from ldap3 import ALL_ATTRIBUTES, SUBTREE

    from connectors.directory.ldap import LdapConnector
    from discover.register import default_register

    connector = LdapConnector(source, model, default_register(), Settings())
    try:
        connection = connector.connection
        base = str(source.connection.get("base_dn", ""))
        entries = connection.extend.standard.paged_search(
            base,
            "(objectClass=*)",
            search_scope=SUBTREE,
            attributes=[ALL_ATTRIBUTES],
            paged_size=200,
            generator=True,
        )
        for index, item in enumerate(entries):
            if item.get("type") != "searchResEntry":
                continue
            if index > rows * 50:
                break
            yield item["dn"], raw_entry(item["raw_attributes"])
    except Exception as exc:
        if isinstance(exc, SourceError):
            raise
        raise SourceError(source.name, f"{type(exc).__name__}: {exc}") from None
    finally:
        connector.close()


def sample(source: SourceConfig, model: LdapMapping | None, rows: int) -> list[SampledField]:
    """Up to ``rows`` entries of each kind, every attribute with its values."""
    if source.kind == "ldap":
        return collect(_ldap_entries(source, model, rows), model, rows)
    return collect(_ldif_entries(source), model, rows)
