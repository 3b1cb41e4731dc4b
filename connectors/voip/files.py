"""Finding and safely reading the files of a provisioning directory.

Provisioning files come from many hands (a PBX's generator, an engineer's editor, a
phone uploading its own contacts), so every file is treated as hostile:

* XML goes through defusedxml: a DTD may not declare entities, so an
  entity-expansion bomb ("billion laughs") and an external entity
  (``file:///etc/passwd``, ``http://...``) are refused before anything is expanded
  or fetched;
* a file larger than the mapping's ``max_bytes`` is not read;
* binary content, a byte sequence that is not valid in the file's encoding and XML
  that is not well-formed (a truncated download) are refused;
* only regular files are opened, without blocking: a FIFO, socket or device is
  refused by name (:mod:`connectors.safe_files`);
* symbolic links are not followed out of the directory, nor into directories; a
  dangling link, a link loop, a sub-directory that cannot be listed and a name that
  is not valid UTF-8 are refused by name;
* an external DTD is never fetched; the file is read without it, with a warning.

Each refusal is a :class:`Unreadable` naming the file and the reason; the scan goes
on with the other files and the connector reports the result as incomplete.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import marshal
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from stat import S_ISREG
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import netaddr
from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import DefusedXMLParser

from connectors.safe_files import file_kind, open_regular
from connectors.voip.globs import Selection

#: MAC addresses that name no handset: Polycom's shared 000000000000-directory.xml,
#: Yealink's per-model common files y0000000000xx.cfg (OUI 00:00:00), broadcast.
_NO_MAC_PREFIXES = ("000000", "ffffffffffff")

#: control characters that do not occur in text (tab, newlines and form feed do)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))

_MAC_PATTERNS = (
    re.compile(r"(?<![0-9a-f])([0-9a-f]{2}(?:[-:][0-9a-f]{2}){5})(?![0-9a-f])", re.I),
    re.compile(r"(?<![0-9a-f])([0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?![0-9a-f])", re.I),
    re.compile(r"(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])", re.I),
)


class Unreadable(Exception):
    """A file that was not read, with the reason in words staff can act on."""

    def __init__(self, relpath: str, reason: str) -> None:
        super().__init__(f"{relpath}: {reason}")
        self.relpath = relpath
        self.reason = reason


@dataclass(slots=True)
class Listing:
    """The files of a directory that match, and what could not be listed or opened."""

    files: list[str] = field(default_factory=list)
    skipped: list[Unreadable] = field(default_factory=list)
    #: the listed files' stamps, four integers per file in the order of ``files``: size,
    #: ``mtime_ns``, inode and ``ctime_ns`` (the change time also moves when only the
    #: file's mode or owner changes: a file made unreadable is read again, and named),
    #: read while listing. Plain integers rather than a tuple per file: a warm search
    #: needs only their digest, and 60,000 tuples would be 60,000 objects more for
    #: the garbage collector to go through
    stamp_values: list[int] = field(default_factory=list)
    #: :meth:`digest` when it was computed already (by the process that listed)
    known_digest: str | None = None

    def stamps(self) -> dict[str, tuple[int, int, int, int]]:
        """Each listed file's stamp (built when asked); a file without four values has none."""
        values = iter(self.stamp_values)
        fours = zip(values, values, values, values, strict=False)
        return dict(zip(self.files, fours, strict=False))

    def digest(self) -> str | None:
        """A digest of the listed paths in order and their stamps; None when the
        stamps are not four per listed file.

        Equal digests mean the same files with the same stamps: an index that saw this
        digest last needs no file compared again. (The stamps are encoded by
        ``marshal`` version 2: exact for any integer, without back-references, in C.)
        """
        if self.known_digest is not None:
            return self.known_digest
        if len(self.stamp_values) != 4 * len(self.files):
            return None
        digest = hashlib.sha256("\0".join(self.files).encode("utf-8", "surrogatepass"))
        digest.update(b"\0\0")
        digest.update(marshal.dumps(self.stamp_values, 2))
        return digest.hexdigest()


_by_name = attrgetter("name")


def _shown(relpath: str) -> str:
    """A path as text even when it is not valid UTF-8 (bad bytes as ``\\xff``)."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _valid_name(relpath: str) -> bool:
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _file_problem(path: Path, root: Path) -> str | None:
    """Why a listed name cannot be read as a file inside ``root``; None when it can."""
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return f"cannot be examined: {exc.strerror or exc}"
    if stat.S_ISLNK(mode):
        try:
            target = Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:
            return f"a symbolic link to a missing file ({_shown(os.readlink(path))})"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "a symbolic link loop"
            return f"a symbolic link that cannot be followed ({exc.strerror or exc})"
        if not target.is_relative_to(root):
            return "a symbolic link to a file outside the provisioning directory; not followed"
        try:
            mode = target.stat().st_mode
        except OSError as exc:
            return f"cannot be examined: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return f"{file_kind(mode)}, not a regular file"
    return None


def scan_directory(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> Listing:
    """Relative POSIX paths under ``root`` matching ``include`` and not ``exclude``.

    Nothing is skipped silently: a sub-directory that cannot be listed, a link to a
    directory (not walked), a name that is not valid UTF-8, a dangling link, a link
    loop, a link out of ``root`` and a FIFO, socket or device that matches the globs
    are each an :class:`Unreadable` in ``skipped``.

    Every search of an indexed source lists the whole directory to see what changed,
    so the walk works on ``os.scandir`` entries and plain strings (the file type comes
    with the directory entry; one ``lstat`` per regular file gives its stamp, kept in
    ``stamp_values``) rather than a ``Path`` and two ``stat`` calls per file, and the globs
    are matched on the file name, their directory part once per directory
    (:class:`~connectors.voip.globs.Selection`).
    """
    selection = Selection(include, exclude)
    resolved_root = root.resolve()
    listing = Listing()
    files_found, skipped, values = listing.files, listing.skipped, listing.stamp_values

    def examine(entry: os.DirEntry[str], path: str, relpath: str) -> None:
        """A link or an entry that is not a regular file: its problem, or its target."""
        try:
            if entry.is_symlink():
                problem = _file_problem(Path(path), resolved_root)
                if problem is None:
                    found(relpath, os.stat(path))
                    return
            else:
                info = entry.stat(follow_symlinks=False)
                if S_ISREG(info.st_mode):
                    found(relpath, info)
                    return
                problem = f"{file_kind(info.st_mode)}, not a regular file"
        except OSError as exc:
            problem = f"cannot be examined: {exc.strerror or exc}"
        skipped.append(Unreadable(relpath, problem))

    def found(relpath: str, info: os.stat_result) -> None:
        files_found.append(relpath)
        values.extend((info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns))

    def walk(directory: str, prefix: str) -> None:
        # the entries are listed and stamped through the directory's descriptor
        # (``fstatat``): the kernel does not look the directory's path up for each file.
        # A sub-directory replaced by a link since it was listed is not followed either.
        flags = os.O_RDONLY | os.O_DIRECTORY | (os.O_NOFOLLOW if prefix else 0)
        try:
            descriptor = os.open(directory, flags)
        except OSError as error:
            not_listed(prefix, error)
            return
        try:
            try:
                with os.scandir(descriptor) as listed:
                    entries = sorted(listed, key=_by_name)
            except OSError as error:
                not_listed(prefix, error)
                return
            kept = in_directory(directory, prefix, entries)
        finally:
            os.close(descriptor)
        for name in kept:
            walk(os.path.join(directory, name), f"{prefix}{name}/")

    def not_listed(prefix: str, error: OSError) -> None:
        skipped.append(
            Unreadable(
                _shown(prefix) if prefix else "./",
                f"directory cannot be listed ({error.strerror or error}); its files were "
                "not searched",
            )
        )

    def in_directory(directory: str, prefix: str, entries: list[os.DirEntry[str]]) -> list[str]:
        """Take the directory's files; the names of the sub-directories to walk."""
        subdirs: list[os.DirEntry[str]] = []
        files: list[os.DirEntry[str]] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # as os.walk: a link to a directory is a directory
            except OSError:
                is_dir = False
            (subdirs if is_dir else files).append(entry)
        kept: list[str] = []
        for entry in subdirs:
            relpath = prefix + entry.name
            if not _valid_name(relpath):
                reason = "directory name is not valid UTF-8; its files were not searched"
                skipped.append(Unreadable(_shown(relpath) + "/", reason))
            elif entry.is_symlink():
                reason = "a symbolic link to a directory; not followed, its files were not searched"
                skipped.append(Unreadable(_shown(relpath) + "/", reason))
            else:
                kept.append(entry.name)
        # ``prefix`` is valid UTF-8 (else the directory was not walked): the name decides
        selected = selection.matcher(prefix)
        for entry in files:
            name = entry.name
            if not selected(name):
                continue
            relpath = prefix + name
            if not name.isascii() and not _valid_name(name):
                reason = "file name is not valid UTF-8 (rename the file)"
                skipped.append(Unreadable(_shown(relpath), reason))
                continue
            if entry.is_symlink():
                examine(entry, os.path.join(directory, name), relpath)
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                skipped.append(Unreadable(relpath, f"cannot be examined: {exc.strerror or exc}"))
                continue
            if not S_ISREG(info.st_mode):
                examine(entry, os.path.join(directory, name), relpath)
                continue
            files_found.append(relpath)
            values.extend((info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns))
        return kept

    enabled = gc.isenabled()
    gc.disable()  # tens of thousands of young objects, none of them garbage
    try:
        walk(str(root), "")
    finally:
        if enabled:
            gc.enable()
    return listing


def list_files(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """The readable files of :func:`scan_directory` (what was skipped is dropped)."""
    return scan_directory(root, include, exclude).files


def mac_from_name(relpath: str, prefixes: tuple[str, ...] = ()) -> str | None:
    """The handset MAC in a file name in any notation, bare lowercase hex; else None.

    ``001565abcd01.cfg``, ``00-15-65-AB-CD-01.cfg``, ``0015.65ab.cd01-registration.cfg``,
    ``SEP001565ABCD01.cnf.xml`` (with prefix ``sep``). A MAC of OUI 00:00:00
    (``000000000000-directory.xml``, ``y000000000028.cfg``) names a file shared by
    every phone, not a handset.
    """
    name = relpath.rsplit("/", 1)[-1]
    lowered = name.lower()
    for prefix in sorted(prefixes, key=len, reverse=True):
        if lowered.startswith(prefix.lower()):
            name = name[len(prefix) :]
            break
    for pattern in _MAC_PATTERNS:
        match = pattern.search(name)
        if match:
            mac = normalise_mac(match.group(1))
            if mac is not None:
                return None if mac.startswith(_NO_MAC_PREFIXES) else mac
    return None


def normalise_mac(text: str) -> str | None:
    """Bare lowercase hex of a MAC in any notation (None when it is not one)."""
    try:
        eui = netaddr.EUI(text.strip())
    except (netaddr.AddrFormatError, TypeError, ValueError):
        return None
    if eui.version != 48:
        return None
    return str(eui.format(netaddr.mac_bare)).lower()


def read_bytes(root: Path, relpath: str, max_bytes: int) -> bytes:
    """The file's bytes; Unreadable when it is too large, binary, special or unreadable."""
    path = root / relpath
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise Unreadable(
                    relpath, f"{size} bytes, larger than files.max_bytes ({max_bytes}); not read"
                )
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise Unreadable(relpath, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise Unreadable(relpath, f"grew beyond files.max_bytes ({max_bytes}) while read")
    if _looks_binary(data):
        raise Unreadable(relpath, "binary content, not a text or XML provisioning file")
    return data


def _looks_binary(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM: text
        return False
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return bool(sample) and controls / len(sample) > 0.05


def is_xml(data: bytes) -> bool:
    """Whether the content starts like an XML document (after a BOM and blanks)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data[:64].decode("utf-16", "ignore").lstrip("\ufeff \t\r\n").startswith("<")
    return data.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def decode_text(relpath: str, data: bytes, encoding: str) -> str:
    """A key = value file as text in its declared encoding; Unreadable when it is not."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding = data[3:], "utf-8"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Unreadable(
            relpath,
            f"not valid {encoding} text (byte {exc.start}: {exc.reason}); "
            "set files.encoding in the mapping if the file is in another encoding",
        ) from None


def parse_xml(relpath: str, data: bytes, notes: list[str] | None = None) -> Element:
    """Parse XML with entity declarations and external references refused.

    A document type naming an external DTD (``<!DOCTYPE x SYSTEM "http://…">``) is
    never fetched; the file is read without it and ``notes`` gets a warning naming it.
    """

    def doctype(name: str, sysid: str | None, pubid: str | None, _internal: int) -> None:
        if (sysid or pubid) and notes is not None:
            notes.append(
                f"{relpath}: declares an external DTD ({sysid or pubid}) for <{name}>: "
                "not fetched, the file was read without it"
            )

    try:
        parser = DefusedXMLParser(
            target=TreeBuilder(), forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
        parser.parser.StartDoctypeDeclHandler = doctype
        parser.feed(data)
        return parser.close()
    except EntitiesForbidden as exc:
        target = exc.sysid or exc.pubid
        if target:
            reason = (
                f"XML declares an external entity {exc.name!r} -> {target}: refused, "
                "nothing was fetched"
            )
        else:
            reason = (
                f"XML declares entity {exc.name!r} (an entity-expansion bomb): refused, "
                "nothing was expanded"
            )
        raise Unreadable(relpath, reason) from None
    except ExternalReferenceForbidden as exc:
        raise Unreadable(
            relpath,
            f"XML refers to an external resource ({exc.sysid or exc.pubid}): refused, nothing "
            "was fetched",
        ) from None
    except DTDForbidden:  # pragma: no cover - DTDs are allowed, entities are not
        raise Unreadable(relpath, "XML has a DTD: refused") from None
    except DefusedXmlException as exc:
        raise Unreadable(relpath, f"unsafe XML: refused ({type(exc).__name__})") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise Unreadable(
            relpath,
            f"not well-formed XML at line {line}, column {column} (truncated or corrupt)",
        ) from None
    except (ValueError, LookupError) as exc:
        raise Unreadable(relpath, f"XML cannot be decoded: {exc}") from None


def local_name(tag: object) -> str:
    """An element's tag without its namespace."""
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def element_text(element: Element) -> str:
    """The element's own text, stripped."""
    return (element.text or "").strip()


def iter_leaves(element: Element) -> Iterator[Element]:
    """Every element below ``element`` that has no child elements."""
    for child in element.iter():
        if child is not element and len(child) == 0:
            yield child
