"""Sampling a provisioning directory: every vendor key and phonebook field, per format.

Files are recognised by the mapping's formats, as a search recognises them. Keys with
an account number (``account.2.user_name``) are grouped by their template
(``account.{n}.user_name``). A key is mapped when one of the format's device or
account keys names it.
"""

from __future__ import annotations

import re
from pathlib import Path

from connectors.sampling import SampledField, finish
from connectors.voip.files import Unreadable, list_files
from connectors.voip.mapping import HandsetFormat, VoipMapping, template_pattern
from connectors.voip.parsers import ParsedConfig, ParsedPhonebook, parse_file
from discover.errors import SourceError
from discover.sources import SourceConfig

_NUMBER = re.compile(r"(?<=[._\-\[/])\d{1,3}(?=[._\-\]/]|$)")
#: files read at most, whatever N: enough to see every vendor's keys
MAX_FILES = 500


def _directory(source: SourceConfig) -> Path:
    raw = source.connection.get("directory")
    if not raw:
        raise SourceError(source.name, "connection.directory is not set in the sources file")
    path = Path(str(raw)).expanduser()
    path = path if path.is_absolute() else source.base_dir / path
    if not path.is_dir():
        raise SourceError(source.name, f"provisioning directory {path} does not exist")
    return path


def _key_field(fmt: HandsetFormat, mapping: VoipMapping, key: str) -> tuple[str | None, object]:
    """(mapped field name, spec) of a vendor key in a handset format."""
    if fmt.mac_key and key == fmt.mac_key:
        rule = mapping.handset_fields.get("mac")
        return "mac", rule.spec if rule is not None else None
    groups = [(fmt.device, mapping.handset_fields)]
    if fmt.account:
        groups.append((fmt.account, mapping.handset_fields))
    groups += [(accounts, mapping.handset_fields) for accounts in fmt.accounts]
    for keys, rules in groups:
        for name, sources in keys.items():
            for candidate in sources:
                if candidate.startswith("$"):
                    continue
                if template_pattern(candidate).fullmatch(key) or candidate == key:
                    rule = rules.get(name)
                    return name, rule.spec if rule is not None else None
    return None, None


def sample(source: SourceConfig, model: VoipMapping, rows: int) -> list[SampledField]:
    """Up to ``rows`` values of every key of every recognised format."""
    root = _directory(source)
    places: dict[tuple[str, str], SampledField] = {}

    def add(location: str, key: str, value: str, mapped: str | None, spec: object) -> None:
        place = places.get((location, key))
        if place is None:
            place = places[(location, key)] = SampledField(
                location,
                key,
                mapped=mapped,
                declared=getattr(spec, "identifier", None),
                secret=bool(getattr(spec, "secret", False)),
                verbatim=False,
            )
        if len(place.values) < rows and value.strip() and not place.secret:
            place.values.append(value.strip())

    for relpath in list_files(root, model.include, model.exclude)[:MAX_FILES]:
        try:
            parsed = parse_file(root, relpath, model)
        except Unreadable:
            continue
        books = [parsed] if isinstance(parsed, ParsedPhonebook) else []
        if isinstance(parsed, ParsedConfig):
            for key, value in parsed.keys.items():
                mapped, spec = _key_field(parsed.format, model, key)
                add(parsed.format.name, _NUMBER.sub("{n}", key), value, mapped, spec)
            books += parsed.embedded
        for book in books:
            for entry in book.entries:
                for name, values in entry.items():
                    rule = model.contact_fields.get(name)
                    spec = rule.spec if rule is not None else None
                    for value in values:
                        add(book.format.name, name, value, name if rule else None, spec)
    return finish(list(places.values()))
