"""Reading LDIF exports (RFC 2849): slapcat, ldapsearch -L, Active Directory's ldifde.

Handles line folding (a line starting with one space continues the previous one),
comments (``#``, folded comments too), base64 values (``attr:: …``), the
``version: 1`` line, CRLF line ends, a UTF-8 or UTF-16 byte-order mark (ldifde
``-u`` writes UTF-16), attribute options (``cn;lang-nl``), ``changetype: add``
records (ldifde writes them) and ``file://`` URL values (``attr:< file:///…``)
relative to the LDIF file. Other change records (modify, delete, modrdn) describe
changes, not entries: they are skipped and counted.

Entries are yielded with their byte offset in the file, so that an index can refer
to them and read them again later without keeping the whole export in memory.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from connectors.directory.values import RawEntry, attribute_key


class LdifError(ValueError):
    """The file is not LDIF; the message names the line."""


@dataclass(slots=True)
class LdifEntry:
    """One entry of an export: where it starts, its DN and raw attribute values."""

    offset: int
    line: int
    dn: str
    attributes: RawEntry


@dataclass(slots=True)
class LdifStats:
    entries: int = 0
    skipped_changes: int = 0
    warnings: list[str] = field(default_factory=list)


def _encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"


def _physical_lines(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, int, bytes]]:
    """(byte offset, line number, line without its end) of each line, as UTF-8 bytes."""
    if encoding == "utf-16":
        text = stream.read().decode("utf-16")
        offset = 0
        for number, line in enumerate(text.splitlines(), start=1):
            data = line.encode("utf-8")
            yield offset, number, data
            offset += len(data) + 1
        return
    offset = 0
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip(b"\r\n")
        if number == 1 and encoding == "utf-8-sig" and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        yield offset, number, line
        offset += len(raw)


def _logical_records(
    stream: BinaryIO, encoding: str
) -> Iterator[tuple[int, int, list[tuple[int, bytes]]]]:
    """Records as (offset, first line, [(line number, unfolded line)]), comments dropped."""
    record: list[tuple[int, bytes]] = []
    start = (0, 0)
    in_comment = False
    for offset, number, line in _physical_lines(stream, encoding):
        if not line.strip():
            if record:
                yield start[0], start[1], record
            record, in_comment = [], False
            continue
        if line.startswith(b" "):
            if in_comment:
                continue
            if not record:
                raise LdifError(f"line {number}: a continuation line without a line to continue")
            record[-1] = (record[-1][0], record[-1][1] + line[1:])
            continue
        if line.startswith(b"#"):
            in_comment = True
            continue
        in_comment = False
        if not record:
            start = (offset, number)
        record.append((number, line))
    if record:
        yield start[0], start[1], record


def _value(number: int, line: bytes, base_dir: Path) -> tuple[str, bytes]:
    name, sep, rest = line.partition(b":")
    if not sep or not name.strip():
        raise LdifError(f"line {number}: expected 'attribute: value'")
    attribute = name.decode("ascii", "replace").strip()
    if rest.startswith(b":"):
        try:
            return attribute, base64.b64decode(rest[1:].strip(), validate=True)
        except (binascii.Error, ValueError):
            raise LdifError(f"line {number}: {attribute}:: is not valid base64") from None
    if rest.startswith(b"<"):
        url = urlsplit(rest[1:].strip().decode("utf-8", "replace"))
        if url.scheme != "file":
            raise LdifError(f"line {number}: only file:// URLs are read, got {url.geturl()}")
        path = Path(unquote(url.path))
        path = path if path.is_absolute() else base_dir / path
        try:
            return attribute, path.read_bytes()
        except OSError as exc:
            raise LdifError(f"line {number}: cannot read {path}: {exc.strerror}") from None
    return attribute, rest.lstrip(b" ")


def read_ldif(path: Path, stats: LdifStats | None = None) -> Iterator[LdifEntry]:
    """The entries of an LDIF file, in order, with their byte offsets."""
    stats = stats if stats is not None else LdifStats()
    with path.open("rb") as stream:
        encoding = _encoding(stream.read(4))
        stream.seek(0)
        for offset, first, lines in _logical_records(stream, encoding):
            entry = _entry(offset, first, lines, path.parent, stats)
            if entry is not None:
                stats.entries += 1
                yield entry


def read_entry_at(path: Path, offset: int) -> LdifEntry | None:
    """The entry that starts at ``offset`` (as :func:`read_ldif` reported it)."""
    with path.open("rb") as stream:
        encoding = _encoding(stream.read(4))
        if encoding == "utf-16":  # offsets are into the decoded text: read it all again
            stream.seek(0)
            for entry in read_ldif(path):
                if entry.offset == offset:
                    return entry
            return None
        stream.seek(offset)
        for start, first, lines in _logical_records(stream, "utf-8"):
            return _entry(offset + start, first, lines, path.parent, LdifStats())
    return None


def _entry(
    offset: int, first: int, lines: list[tuple[int, bytes]], base_dir: Path, stats: LdifStats
) -> LdifEntry | None:
    values = iter(lines)
    number, line = next(values)
    name, dn = _value(number, line, base_dir)
    if name.lower() == "version":
        try:
            number, line = next(values)
        except StopIteration:
            return None
        name, dn = _value(number, line, base_dir)
    if name.lower() != "dn":
        raise LdifError(f"line {number}: expected 'dn:' to start a record, got {name!r}")
    attributes: RawEntry = {}
    for number, line in values:
        name, value = _value(number, line, base_dir)
        key = attribute_key(name)
        if key == "changetype":
            if value.decode("ascii", "replace").strip().lower() != "add":
                stats.skipped_changes += 1
                return None
            continue
        if key == "control":
            continue
        attributes.setdefault(key, []).append(value)
    return LdifEntry(offset, first, dn.decode("utf-8", "replace").strip(), attributes)
