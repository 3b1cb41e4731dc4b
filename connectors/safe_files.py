"""Opening input files without trusting them.

The files a source names come from other hands (a client's administrator, a PBX, a
spreadsheet someone mailed). Opening one must never hang the search or read more
than it should:

* only regular files are read: a FIFO, socket or device is refused by its kind,
  checked before opening and again on the open descriptor (the name may be swapped
  in between), and the open itself never blocks (``O_NONBLOCK``: opening a FIFO for
  reading would otherwise wait for a writer forever);
* a ZIP-based workbook (XLSX, XLSM, XLSB, ODS) is refused when its directory
  declares more uncompressed bytes, or a higher compression ratio, than any real
  workbook has (a decompression bomb), before any reader inflates it; then each
  member is inflated here, in bounded chunks and without keeping the output, to
  check that it does not inflate beyond its declared size (a forged directory).

Refusals are :class:`NotRegularFile` and :class:`ArchiveRefused`, both ``OSError``
so that callers report them the way they report any unreadable file.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

#: uncompressed bytes a workbook may declare in all (a 200,000-row sheet is ~100 MB)
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
#: a member larger than this may be compressed at most MAX_RATIO : 1
RATIO_FLOOR_BYTES = 1024 * 1024
#: XML sheets compress 5-30 : 1; bombs 1,000 : 1
MAX_RATIO = 200
#: members a workbook may have
MAX_MEMBERS = 10_000

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotRegularFile(OSError):
    """A path that is not a regular file; ``strerror`` says what it is instead."""

    def __init__(self, path: Path | str, mode: int) -> None:
        super().__init__(errno.EINVAL, f"{file_kind(mode)}, not a regular file", str(path))


class ArchiveRefused(OSError):
    """A ZIP-based file whose declared contents are implausible (a decompression bomb)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(errno.EFBIG, reason, str(path))


def printable(text: str | os.PathLike[str]) -> str:
    """A path as text that can be written anywhere: bytes that are not UTF-8 as ``\\xff``.

    A file name is bytes; one that is not UTF-8 reaches Python with surrogates, which
    no JSON, Parquet or console output accepts.
    """
    raw = os.fspath(text)
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def utf8_name(path: str | os.PathLike[str]) -> bool:
    """Whether a path is valid UTF-8 (libraries that take paths as text need it)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable_by_name(path: Path) -> Path | bytes:
    """``path`` itself, or its bytes when a library could not open it by its name."""
    if utf8_name(path):
        return path
    with open_regular(path) as handle:
        return handle.read()


def file_kind(mode: int) -> str:
    """What a stat mode is, in words: "a FIFO (named pipe)", "a socket" …"""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def check_regular(path: Path | str) -> os.stat_result:
    """The file's stat (following links); NotRegularFile when it is not a regular file."""
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        raise NotRegularFile(path, status.st_mode)
    return status


def open_regular(path: Path | str) -> BinaryIO:
    """Open a regular file for binary reading without ever blocking on a special file.

    Checked before opening and on the open descriptor; the descriptor is switched back
    to blocking reads once it is known to be a regular file.
    """
    check_regular(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFile(path, status.st_mode)
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: Path | str, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of a regular file (the caller checks the size)."""
    with open_regular(path) as handle:
        return handle.read(max_bytes + 1)


def check_archive(
    path: Path | str,
    *,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_ratio: int = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
) -> None:
    """Refuse a ZIP whose central directory promises a decompression bomb.

    Only the directory is read (sizes as declared, nothing inflated). A file that is
    no ZIP at all (an XLS) passes: its reader decides.
    """
    with open_regular(path) as handle:
        if not zipfile.is_zipfile(handle):
            return
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
        except (zipfile.BadZipFile, ValueError) as exc:
            raise ArchiveRefused(path, f"not a readable ZIP archive ({exc})") from None
        _check_declared(path, members, max_bytes, max_ratio, max_members)
        for member in members:
            _check_inflated(path, handle, member)


def _check_declared(
    path: Path | str,
    members: list[zipfile.ZipInfo],
    max_bytes: int,
    max_ratio: int,
    max_members: int,
) -> None:
    if len(members) > max_members:
        raise ArchiveRefused(path, f"{len(members)} members in the archive (limit {max_members})")
    total = sum(member.file_size for member in members)
    if total > max_bytes:
        raise ArchiveRefused(
            path,
            f"declares {total:,} bytes uncompressed (limit {max_bytes:,}): a decompression "
            "bomb or far too large a workbook; not read",
        )
    for member in members:
        if member.file_size <= RATIO_FLOOR_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > max_ratio:
            raise ArchiveRefused(
                path,
                f"member {member.filename!r} expands {ratio:,.0f} times "
                f"({member.compress_size:,} to {member.file_size:,} bytes; limit {max_ratio}): "
                "a decompression bomb; not read",
            )


def _check_inflated(path: Path | str, handle: BinaryIO, member: zipfile.ZipInfo) -> None:
    """Inflate one member in bounded chunks; refuse it past its declared size."""
    if member.compress_type == zipfile.ZIP_STORED:
        return  # stored: exactly its compressed size, which the reader cannot exceed
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise ArchiveRefused(
            path,
            f"member {member.filename!r} uses compression method {member.compress_type}, "
            "which workbooks do not use; not read",
        )
    handle.seek(member.header_offset)
    header = handle.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise ArchiveRefused(path, f"member {member.filename!r} has no local header; not read")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    handle.seek(member.header_offset + 30 + name_length + extra_length)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    remaining, total = member.compress_size, 0
    try:
        while remaining and not inflater.eof:
            data = handle.read(min(remaining, 1 << 16))
            if not data:
                break
            remaining -= len(data)
            while data:
                total += len(inflater.decompress(data, 1 << 20))
                if total > member.file_size:
                    raise ArchiveRefused(
                        path,
                        f"member {member.filename!r} inflates beyond its declared "
                        f"{member.file_size:,} bytes (a forged archive); not read",
                    )
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise ArchiveRefused(path, f"member {member.filename!r} is corrupt ({exc})") from None
