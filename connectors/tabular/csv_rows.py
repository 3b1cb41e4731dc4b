"""Find a CSV file's records by their place in it, not by parsing all of it.

An indexed search knows which rows of a CSV hold the subject. polars cannot start in
the middle of a file: asked for three rows of a 1,000,000-row log it parses every row
(a hundred megabytes and more of memory for a 60 MB file). A CSV's records, though,
end at the line breaks that are outside quotes, and a quote opens and closes: a
record boundary is a newline with an even number of quote characters before it. This
module finds those boundaries a megabyte at a time (a chunk without a quote and
without a wanted record is only counted; otherwise numpy finds the newlines and the
quotes, and the parity of the quotes before each newline) and returns the bytes of the
header and of the wanted records, which polars then parses as the file itself would be.

The same boundaries split a large file into parts of a bounded size
(:func:`record_parts`), so that its index is built a part at a time: each part is the
header and whole records, which polars parses as it parses the file itself.

Blank lines are records, as polars reads them (rows of nulls). The caller compares the
number of records found with the number of rows polars gives (the rows the file had
when it was indexed, or the rows of a part): a difference (a stray quote polars reads
otherwise, another line-ending convention, a changed file) means the boundaries cannot
be trusted, and the file is read in full. Only encodings in which a newline and the
quote are single bytes that never occur inside another character (UTF-8, and the
ASCII range of the others) are split into parts. Records are also found in UTF-16
(Excel's "Unicode text"), a code unit of two bytes at a time: a newline and a quote
are code units no other character's code units equal (a character beyond the BMP is
two surrogates), so the same parity of quotes finds the same boundaries
(:func:`read_records` with ``unit``).
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.safe_files import open_regular

if TYPE_CHECKING:
    import numpy as np

CHUNK = 1024 * 1024
#: the size a part of a file is cut at (the record that ends past it included)
PART = 2 * 1024 * 1024
#: a part that finds no record boundary within this many times PART is given up
_LONGEST = 2


class Untrusted(Exception):
    """A file cannot be split into parts here: it must be read whole."""


@dataclass(frozen=True, slots=True)
class Records:
    """The header records' bytes, each wanted data record's bytes, and the count of data
    records the file holds."""

    header: bytes
    rows: dict[int, bytes]
    count: int


#: the code units of a file in one byte a character (UTF-8, cp1252 …), as numpy reads them
BYTES = "u1"


def _ends(chunk: bytes, quote_byte: int | None, carry: int, unit: str = BYTES) -> np.ndarray:
    """Offsets in ``chunk`` of the newlines that end a record (an even number of quotes
    before them, ``carry`` counting those of earlier chunks): of the newline's last
    byte when a code unit (``unit``, a numpy type) is wider than one."""
    import numpy as np  # here: loading it costs every search's start some 60 ms

    data = np.frombuffer(chunk, dtype=unit)
    newlines = np.flatnonzero(data == 10)
    if quote_byte is not None:
        quotes = np.flatnonzero(data == quote_byte)
        before = np.searchsorted(quotes, newlines) + carry
        newlines = newlines[before % 2 == 0]
    width = data.itemsize
    return newlines if width == 1 else newlines * width + (width - 1)


def _count(chunk: bytes, code: int, unit: str) -> int:
    """How many code units of ``chunk`` are ``code``."""
    if unit == BYTES:
        return chunk.count(code.to_bytes(1, "big"))
    import numpy as np  # here: loading it costs every search's start some 60 ms

    return int(np.count_nonzero(np.frombuffer(chunk, dtype=unit) == code))


def _spans(
    path: Path, quote: bytes, wanted: set[int], unit: str = BYTES
) -> tuple[dict[int, tuple[int, int]], int]:
    """``(start, end)`` of each wanted record (0-based, header records included) and
    the number of records, one chunk at a time: memory holds a chunk, not the file.

    ``quote`` is the quote's code unit (in UTF-8 its first byte); Untrusted when the
    file is not whole code units of ``unit``."""
    spans: dict[int, tuple[int, int]] = {}
    width = int(unit[-1])
    quote_code = int.from_bytes(quote, "little" if unit[0] == "<" else "big") if quote else None
    size = max(width, CHUNK - CHUNK % width)  # a chunk of whole code units
    carry = 0  # quotes seen so far, modulo 2
    position = 0  # of the chunk in the file
    records = 0  # records ended before this chunk
    previous_end = 0  # where the record now being read began
    last = 10
    with open_regular(path) as handle:
        while chunk := handle.read(size):
            if len(chunk) % width:
                raise Untrusted("the file ends inside a character")
            quoted = bool(carry) or (quote_code is not None and quote in chunk)
            # counted as bytes: a newline byte is one only where a code unit is a byte
            count = chunk.count(b"\n") if width == 1 and not quoted else -1
            if count >= 0 and not any(records <= n < records + count for n in wanted):
                # the common chunk: no quote in it, no wanted record ends in it
                if count:
                    previous_end = position + chunk.rfind(b"\n") + 1
                records += count
            else:
                ends = _ends(chunk, quote_code if quoted else None, carry, unit) + (position + 1)
                if quoted:
                    assert quote_code is not None  # a quote was seen
                    carry = (carry + _count(chunk, quote_code, unit)) % 2
                for number in (n for n in wanted if records <= n < records + len(ends)):
                    offset = number - records
                    start = int(ends[offset - 1]) if offset else previous_end
                    spans[number] = (start, int(ends[offset]))
                if len(ends):
                    previous_end = int(ends[-1])
                records += len(ends)
            position += len(chunk)
            last = chunk[-1] if width == 1 else _last_unit(chunk, unit)
    if position and last != 10:  # a last record without a line break
        if records in wanted:
            spans[records] = (previous_end, position)
        records += 1
    return spans, records


def _last_unit(chunk: bytes, unit: str) -> int:
    import numpy as np  # here: loading it costs every search's start some 60 ms

    return int(np.frombuffer(chunk, dtype=unit)[-1])


def utf16_unit(encoding: str, head: bytes) -> str | None:
    """The numpy type of a UTF-16 file's code units (``<u2`` or ``>u2``), in the byte
    order Python decodes it in: the encoding's own, else the byte-order mark's, else
    the machine's. None for another encoding."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    if name in ("utf-16-le", "utf-16-be"):
        return "<u2" if name.endswith("le") else ">u2"
    if name != "utf-16":
        return None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "<u2" if head.startswith(b"\xff\xfe") else ">u2"
    return "<u2" if sys.byteorder == "little" else ">u2"


def read_records(
    path: Path,
    header_records: int,
    quote: str | None,
    wanted: Collection[int],
    unit: str = BYTES,
) -> Records | None:
    """The header and the data records ``wanted`` (0-based after the header) of ``path``,
    whose code units are ``unit`` (a numpy type: bytes, or UTF-16's, see
    :func:`utf16_unit`).

    None when the file has fewer records than its header, or is not whole code units.
    """
    numbers = {header_records + index for index in wanted}
    if header_records:
        numbers.add(header_records - 1)
    if unit == BYTES:
        quoted = (quote or "").encode("utf-8")[:1]
    else:
        quoted = (quote or "")[:1].encode("utf-16-le" if unit[0] == "<" else "utf-16-be")
    try:
        spans, total = _spans(path, quoted, numbers, unit)
    except Untrusted:
        return None
    if total < header_records:
        return None
    rows: dict[int, bytes] = {}
    with open_regular(path) as handle:
        header = handle.read(spans[header_records - 1][1]) if header_records else b""
        for number, (start, end) in sorted(spans.items()):
            if number < header_records:
                continue
            handle.seek(start)
            rows[number - header_records] = handle.read(end - start)
    return Records(header, rows, total - header_records)


@dataclass(frozen=True, slots=True)
class Part:
    """Some whole records of a file, as polars is to parse them.

    ``data`` is the file's header records, then (``skip`` = 1) the file's first data
    record, then the part's own ``count`` records, the first of them data record
    ``start`` (0-based after the header). The first data record is there because
    polars takes the number of fields from the first row it parses: a part read
    without it would be refused, or read otherwise, where the file is not.
    """

    data: bytes
    skip: int
    start: int
    count: int


@dataclass(slots=True)
class _Splitter:
    """The state of :func:`record_parts` between the chunks of a file."""

    header_records: int
    size: int
    buffer: bytearray  # the file's bytes from ``base`` on, not handed out yet
    base: int = 0
    records: int = 0  # records (header ones included) ended before the chunk read now
    header: bytes | None = None
    first: bytes | None = None
    start: int = 0  # the data record the buffer's first part begins with

    def _known(self, ends: np.ndarray) -> None:
        """Take the header and the first data record once they ended in ``ends``."""
        if self.header is None and self.records + len(ends) >= self.header_records:
            end = int(ends[self.header_records - self.records - 1]) if self.header_records else 0
            self.header = bytes(self.buffer[: end - self.base])
            del self.buffer[: end - self.base]
            self.base = end
        if (
            self.header is not None
            and self.first is None
            and self.records + len(ends) > self.header_records
        ):
            end = int(ends[self.header_records - self.records])
            self.first = bytes(self.buffer[: end - self.base])

    def cut(self, ends: np.ndarray) -> Part | None:
        """The buffer's records up to the last of ``ends``, once the buffer holds a part."""
        self._known(ends)
        if self.first is None or len(self.buffer) < self.size or not len(ends):
            if len(self.buffer) > _LONGEST * self.size + CHUNK:
                raise Untrusted("no record boundary found in a part's length")
            return None
        end = int(ends[-1])
        count = self.records + len(ends) - self.header_records - self.start
        return self._part(end - self.base, count)

    def rest(self, last_open: bool) -> Part | None:
        """The records left at the end of the file (the last one without a line break
        when ``last_open``)."""
        if self.header is None or not self.buffer:
            return None
        count = self.records - self.header_records - self.start + int(last_open)
        return self._part(len(self.buffer), count)

    def _part(self, length: int, count: int) -> Part:
        assert self.header is not None  # a part is cut only after the header
        first = (self.first or b"") if self.start else b""
        data = b"".join((self.header, first, memoryview(self.buffer)[:length]))
        part = Part(data, int(bool(self.start)), self.start, count)
        self.buffer = self.buffer[length:]  # a new buffer: the old one's room is let go
        self.base += length
        self.start += count
        return part


def record_parts(
    path: Path, header_records: int, quote: str | None, size: int | None = None
) -> Iterator[Part]:
    """``path``'s data records in parts of about ``size`` bytes (PART), cut at record
    boundaries, read once a megabyte at a time: memory holds a part, not the file.

    Untrusted (raised while or after the parts are read): a record longer than a few
    parts (a quote that never closes reads as one), a file that ends inside a quoted
    field or has fewer records than its header, or one that changed while it was
    read. The caller then reads the file whole: polars tells what is wrong with it.
    """
    quote_bytes = (quote or "").encode("utf-8")[:1]
    quote_byte = quote_bytes[0] if quote_bytes else None
    splitter = _Splitter(header_records, size or PART, bytearray())
    carry = 0
    position = 0
    last = 10
    with open_regular(path) as handle:
        before = os.fstat(handle.fileno())
        while chunk := handle.read(CHUNK):
            splitter.buffer += chunk
            quoted = bool(carry) or (quote_byte is not None and quote_bytes in chunk)
            settled = splitter.first is not None and len(splitter.buffer) < splitter.size
            if settled and not quoted:  # the common chunk: only counted
                splitter.records += chunk.count(b"\n")
            else:
                ends = _ends(chunk, quote_byte if quoted else None, carry) + (position + 1)
                if quoted:
                    carry = (carry + chunk.count(quote_bytes)) % 2
                part = splitter.cut(ends)
                splitter.records += len(ends)
                if part is not None:
                    yield part
            position += len(chunk)
            last = chunk[-1]
        after = os.fstat(handle.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or (
        position != after.st_size
    ):
        raise Untrusted("the file changed while it was read")
    if carry:  # the last record is cut short, or polars pairs the quotes otherwise
        raise Untrusted("the file ends inside a quoted field")
    if splitter.header is None:  # polars may read the header otherwise: it tells
        raise Untrusted("the file has fewer records than its header")
    part = splitter.rest(bool(position) and last != 10)
    if part is not None:
        yield part
