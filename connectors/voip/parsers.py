"""Reading one provisioning file into vendor keys or phonebook entries.

A handset configuration becomes a flat ``{vendor key: value}`` dictionary, whatever
the vendor's syntax, so that the mapping can name keys the way the vendor documents
them (``account.1.user_name``, ``reg.1.auth.userId``, ``User_ID_1_``, ``P35``,
``user_name1``). A phonebook becomes a list of entries, each ``{field: [values]}``,
read through the element paths the mapping declares. The format is recognised from
the content (the first line, the XML root element), never from the file name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from connectors.voip.files import (
    Unreadable,
    decode_text,
    element_text,
    is_xml,
    iter_leaves,
    local_name,
    mac_from_name,
    normalise_mac,
    parse_xml,
    read_bytes,
)
from connectors.voip.mapping import HandsetFormat, PhonebookFormat, VoipMapping

#: Placeholders Yealink templates use for an empty value.
_EMPTY_VALUES = frozenset({"%NULL%", "%EMPTY%"})


class Unrecognised(Unreadable):
    """A readable file in none of the mapping's formats."""


@dataclass(slots=True)
class ParsedPhonebook:
    """A phonebook file (or one embedded in a handset's settings) and its entries."""

    relpath: str
    format: PhonebookFormat
    entries: list[dict[str, list[str]]]
    mac: str | None = None
    embedded_in: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParsedConfig:
    """A handset configuration file read into vendor keys."""

    relpath: str
    format: HandsetFormat
    keys: dict[str, str]
    mac: str | None = None
    embedded: list[ParsedPhonebook] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Parsed = ParsedConfig | ParsedPhonebook


def _put(keys: dict[str, str], key: str, value: str) -> None:
    """Record a key (a key given twice keeps its last value, as the phones do)."""
    value = "" if value in _EMPTY_VALUES else value
    keys[key] = value


def read_key_value(text: str) -> dict[str, str]:
    """``key = value`` lines (Yealink): comments with ``#``, ``%NULL%`` is empty."""
    keys: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("include:config"):
            target = line[len("include:config") :].strip().strip('"')
            previous = keys.get("include:config")
            keys["include:config"] = f"{previous},{target}" if previous else target
            continue
        key, sep, value = line.partition("=")
        if sep:
            _put(keys, key.strip(), value.strip())
    return keys


def read_xml_attributes(root: Element) -> dict[str, str]:
    """Every attribute of every element (Polycom ``reg.1.address="201"``)."""
    keys: dict[str, str] = {}
    for element in root.iter():
        for name, value in element.attrib.items():
            _put(keys, local_name(name), value.strip())
    return keys


def read_xml_elements(root: Element) -> dict[str, str]:
    """Every leaf element's text by its tag (Cisco SPA ``<User_ID_1_>201</User_ID_1_>``)."""
    keys: dict[str, str] = {}
    for leaf in iter_leaves(root):
        _put(keys, leaf.tag, element_text(leaf))
    return keys


def read_grandstream(root: Element) -> dict[str, str]:
    """``<mac>``, ``<config>`` P-values and version-2 ``<item name><part name>`` values."""
    keys: dict[str, str] = {}
    for child in root:
        if child.tag != "config":
            if len(child) == 0:
                _put(keys, child.tag, element_text(child))
            continue
        for item in child:
            if item.tag == "item":
                name = item.get("name", "").strip()
                parts = [p for p in item if p.tag == "part"]
                if not name:
                    continue
                if not parts:
                    _put(keys, name, element_text(item))
                for part in parts:
                    _put(keys, f"{name}.{part.get('name', '').strip()}", element_text(part))
            elif len(item) == 0:
                _put(keys, item.tag, element_text(item))
    return keys


def read_snom(root: Element) -> dict[str, str]:
    """``<phone-settings>``: tag plus ``idx`` (``user_name1``); ``<setting-files>`` URLs."""
    keys: dict[str, str] = {}
    for section in root:
        if section.tag == "phone-settings":
            for element in section:
                index = (element.get("idx") or "").strip()
                _put(keys, f"{element.tag}{index}", element_text(element))
        elif section.tag == "setting-files":
            urls = [f.get("url", "").strip() for f in section.iter("file") if f.get("url")]
            if urls:
                keys["setting-files"] = ",".join(urls)
    return keys


_XML_READERS = {
    "xml_attributes": read_xml_attributes,
    "xml_elements": read_xml_elements,
    "grandstream": read_grandstream,
    "snom": read_snom,
}


def _values(entry: Element, path: str) -> list[str]:
    """Values at ``path`` below an entry: ``Name``, ``Phone/phonenumber``, ``@Name``, ``a/b@c``."""
    element_path, at, attribute = path.rpartition("@") if "@" in path else (path, "", "")
    if at:
        elements = entry.findall(element_path.rstrip("/")) if element_path else [entry]
        raw = [e.get(attribute) for e in elements]
    else:
        raw = [e.text for e in entry.findall(element_path)]
    return [text.strip() for text in raw if text and text.strip()]


def read_phonebook(root: Element, fmt: PhonebookFormat) -> list[dict[str, list[str]]]:
    """The entries of a phonebook, each field with the values found at its paths."""
    entries: list[dict[str, list[str]]] = []
    for entry_path in fmt.entries:
        for element in root.findall(entry_path):
            entry: dict[str, list[str]] = {}
            for name, paths in fmt.fields.items():
                values = [value for path in paths for value in _values(element, path)]
                if values:
                    entry[name] = values
            entries.append(entry)
    return entries


def _strip_namespaces(root: Element) -> None:
    for element in root.iter():
        element.tag = local_name(element.tag)


def parse_file(root: Path, relpath: str, mapping: VoipMapping) -> Parsed:
    """Read and recognise one file; Unreadable / Unrecognised when it cannot be used."""
    data = read_bytes(root, relpath, mapping.max_bytes)
    name_mac = mac_from_name(relpath, mapping.mac_prefixes)
    if is_xml(data):
        notes: list[str] = []
        document = parse_xml(relpath, data, notes)
        _strip_namespaces(document)
        for fmt in mapping.formats:
            if document.tag not in fmt.detect.roots:
                continue
            if isinstance(fmt, PhonebookFormat):
                entries = read_phonebook(document, fmt)
                return ParsedPhonebook(relpath, fmt, entries, name_mac, notes=notes)
            keys = _XML_READERS[fmt.syntax](document)
            mac = name_mac or _content_mac(fmt, keys)
            config = ParsedConfig(relpath, fmt, keys, mac, notes=notes)
            config.embedded = _embedded_phonebooks(document, relpath, mapping, mac)
            return config
        raise Unrecognised(
            relpath,
            f"XML root element <{document.tag}> is in none of the mapping's formats "
            "(add a format, or leave the file out with files.exclude)",
        )
    text = decode_text(relpath, data, mapping.encoding)
    first_line = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    for fmt in mapping.formats:
        header = fmt.detect.header
        if isinstance(fmt, HandsetFormat) and header and first_line.startswith(header):
            keys = read_key_value(text)
            return ParsedConfig(relpath, fmt, keys, name_mac or _content_mac(fmt, keys))
    raise Unrecognised(
        relpath,
        "neither XML nor a text format of the mapping (its first line starts with none of "
        "the formats' headers); add a format, or leave it out with files.exclude",
    )


def _content_mac(fmt: HandsetFormat, keys: dict[str, str]) -> str | None:
    if fmt.mac_key and keys.get(fmt.mac_key):
        return normalise_mac(keys[fmt.mac_key])
    return None


def _embedded_phonebooks(
    document: Element, relpath: str, mapping: VoipMapping, mac: str | None
) -> list[ParsedPhonebook]:
    """Phonebooks inside a handset's settings (Snom ``<settings><tbook>``)."""
    found: list[ParsedPhonebook] = []
    for child in document:
        for fmt in mapping.formats:
            if isinstance(fmt, PhonebookFormat) and child.tag in fmt.detect.roots:
                found.append(
                    ParsedPhonebook(
                        f"{relpath}#{child.tag}",
                        fmt,
                        read_phonebook(child, fmt),
                        mac,
                        embedded_in=relpath,
                    )
                )
                break
    return found
