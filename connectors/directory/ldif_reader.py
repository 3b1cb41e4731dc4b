"""Reading LDIF exports (RFC 2849): slapcat, ldapsearch -L, Active Directory's ldifde.

Handles line folding (a line starting with one space continues the previous one),
comments (``#``, folded comments too), base64 values (``attr:: …``), the
``version: 1`` line, CRLF line ends, a UTF-8 or UTF-16 byte-order mark (ldifde
``-u`` writes UTF-16), attribute options (``cn;lang-nl``), ``changetype: add``
records (ldifde writes them) and ``file://`` URL values (``attr:< file:///…``).
Other change records (modify, delete, modrdn) describe changes, not entries: they
are skipped and counted.

An export comes from a client's administrator, so a URL value must not read the
provider's own files (``description:< file:///etc/passwd``). :class:`FileUrls` says
whether a source may read them at all (``allow_file_urls`` in the sources file, off
by default), and then only regular files below the export's own directory (links
resolved first) up to a size cap; anything else leaves that one value out with a
warning naming the line. Lines that are not UTF-8 (a Latin-1 export) are read as
Latin-1 and lines holding NUL bytes are kept; both are counted, so that the
connector can say the export is damaged.

Entries are yielded with their byte offset in the file, so that an index can refer
to them and read them again later without keeping the whole export in memory.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from connectors.directory.values import RawEntry, attribute_key
from connectors.safe_files import open_regular

#: bytes a file:// value may have (a jpegPhoto is tens of kilobytes)
MAX_URL_BYTES = 1024 * 1024


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
    """What a pass over the file counted besides its entries."""

    entries: int = 0
    skipped_changes: int = 0
    warnings: list[str] = field(default_factory=list)
    #: lines that were not valid UTF-8 (read as Latin-1), and the first of them
    not_utf8: int = 0
    first_not_utf8: int = 0
    #: lines holding NUL bytes, and the first of them
    nul_lines: int = 0
    first_nul: int = 0

    def line_seen(self, number: int, line: bytes) -> bytes:
        """Count what is wrong with a line; a line that is not UTF-8 comes back re-encoded."""
        if b"\x00" in line:
            self.nul_lines += 1
            self.first_nul = self.first_nul or number
        if line.isascii():
            return line
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            self.not_utf8 += 1
            self.first_not_utf8 = self.first_not_utf8 or number
            return line.decode("latin-1").encode("utf-8")
        return line


@dataclass(frozen=True, slots=True)
class FileUrls:
    """Whether and where ``attr:< file://…`` values may be read.

    ``root`` is the export's own directory; a URL's file must resolve (links
    followed) to a regular file below it, of at most ``max_bytes``.
    """

    allowed: bool = False
    root: Path | None = None
    max_bytes: int = MAX_URL_BYTES

    def read(self, raw: bytes) -> tuple[bytes | None, str | None]:
        """The file's bytes, or None and the reason it was not read."""
        text = raw.decode("utf-8", "replace").strip()
        url = urlsplit(text)
        if url.scheme != "file":
            return None, f"only file:// URLs are read, not {text!r}"
        if not self.allowed or self.root is None:
            return None, (
                "this source does not allow file URLs (allow_file_urls: true in the "
                "sources file allows files below the export's directory)"
            )
        if url.netloc not in ("", "localhost"):
            return None, f"{text!r} names another host"
        root = Path(os.path.realpath(self.root))
        path = Path(unquote(url.path))
        path = path if path.is_absolute() else root / path
        try:
            target = Path(os.path.realpath(path, strict=True))
        except OSError as exc:
            return None, f"{text!r} cannot be read ({exc.strerror or exc})"
        if not target.is_relative_to(root):
            return None, f"{text!r} is outside the export's directory {root}"
        try:
            with open_regular(target) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > self.max_bytes:
                    return None, f"{text!r} has {size:,} bytes (limit {self.max_bytes:,})"
                data = handle.read(self.max_bytes + 1)
        except OSError as exc:
            return None, f"{text!r} cannot be read ({exc.strerror or exc})"
        if len(data) > self.max_bytes:
            return None, f"{text!r} grew beyond {self.max_bytes:,} bytes while read"
        return data, None


def _encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"


def _physical_lines(
    stream: BinaryIO, encoding: str, stats: LdifStats
) -> Iterator[tuple[int, int, bytes]]:
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
        yield offset, number, stats.line_seen(number, line)
        offset += len(raw)


def _logical_records(
    stream: BinaryIO, encoding: str, stats: LdifStats
) -> Iterator[tuple[int, int, list[tuple[int, bytes]]]]:
    """Records as (offset, first line, [(line number, unfolded line)]), comments dropped."""
    record: list[tuple[int, bytes]] = []
    start = (0, 0)
    in_comment = False
    for offset, number, line in _physical_lines(stream, encoding, stats):
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


def _value(
    number: int, line: bytes, file_urls: FileUrls, stats: LdifStats
) -> tuple[str, bytes | None]:
    """An attribute and its value; None when a URL value was not read (with a warning)."""
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
        data, reason = file_urls.read(rest[1:])
        if reason is not None:
            stats.warnings.append(
                f"line {number}: the value of {attribute}:< was not read: {reason}; "
                "the value is left out"
            )
        return attribute, data
    return attribute, rest.lstrip(b" ")


def read_ldif(
    path: Path, stats: LdifStats | None = None, file_urls: FileUrls | None = None
) -> Iterator[LdifEntry]:
    """The entries of an LDIF file, in order, with their byte offsets.

    ``file_urls``: how URL values are read (default: not at all).
    """
    stats = stats if stats is not None else LdifStats()
    file_urls = file_urls or FileUrls()
    with open_regular(path) as stream:
        encoding = _encoding(stream.read(4))
        stream.seek(0)
        for offset, first, lines in _logical_records(stream, encoding, stats):
            entry = _entry(offset, first, lines, file_urls, stats)
            if entry is not None:
                stats.entries += 1
                yield entry


def read_entry_at(path: Path, offset: int, file_urls: FileUrls | None = None) -> LdifEntry | None:
    """The entry that starts at ``offset`` (as :func:`read_ldif` reported it)."""
    with open_regular(path) as stream:
        encoding = _encoding(stream.read(4))
        if encoding == "utf-16":  # offsets are into the decoded text: read it all again
            stream.seek(0)
            for entry in read_ldif(path, file_urls=file_urls):
                if entry.offset == offset:
                    return entry
            return None
        stream.seek(offset)
        stats = LdifStats()
        for start, first, lines in _logical_records(stream, "utf-8", stats):
            return _entry(offset + start, first, lines, file_urls or FileUrls(), stats)
    return None


def _entry(
    offset: int,
    first: int,
    lines: list[tuple[int, bytes]],
    file_urls: FileUrls,
    stats: LdifStats,
) -> LdifEntry | None:
    values = iter(lines)
    number, line = next(values)
    name, dn = _value(number, line, file_urls, stats)
    if name.lower() == "version":
        try:
            number, line = next(values)
        except StopIteration:
            return None
        name, dn = _value(number, line, file_urls, stats)
    if name.lower() != "dn" or dn is None:
        raise LdifError(f"line {number}: expected 'dn:' to start a record, got {name!r}")
    attributes: RawEntry = {}
    for number, line in values:
        name, value = _value(number, line, file_urls, stats)
        if value is None:
            continue
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
