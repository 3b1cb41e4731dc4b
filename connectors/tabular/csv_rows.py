"""Read a few rows of a large CSV file by their place in it, not by parsing all of it.

An indexed search knows which rows of a CSV hold the subject. polars cannot start in
the middle of a file: asked for three rows of a 1,000,000-row log it parses every row
(a hundred megabytes and more of memory for a 60 MB file). A CSV's records, though,
end at the line breaks that are outside quotes, and a quote opens and closes: a
record boundary is a newline with an even number of quote characters before it. This
module finds those boundaries a megabyte at a time (a chunk without a quote and
without a wanted record is only counted; otherwise numpy finds the newlines and the
quotes, and the parity of the quotes before each newline) and returns the bytes of the
header and of the wanted records, which polars then parses as the file itself would be.

Blank lines are records, as polars reads them (rows of nulls). The caller compares the
number of records found with the number of rows the file had when it was indexed: a
difference (a stray quote polars reads otherwise, another line-ending convention, a
changed file) means the boundaries cannot be trusted, and the file is read in full.
Only encodings in which a newline and the quote are single bytes that never occur
inside another character (UTF-8, and the ASCII range of the others) are read this way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from connectors.safe_files import open_regular

CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Records:
    """The header records' bytes, each wanted data record's bytes, and the count of data
    records the file holds."""

    header: bytes
    rows: dict[int, bytes]
    count: int


def _ends(chunk: bytes, quote_byte: int | None, carry: int) -> np.ndarray:
    """Offsets in ``chunk`` of the newlines that end a record (an even number of quotes
    before them, ``carry`` counting those of earlier chunks)."""
    data = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    if quote_byte is None:
        return newlines
    quotes = np.flatnonzero(data == quote_byte)
    before = np.searchsorted(quotes, newlines) + carry
    return newlines[before % 2 == 0]


def _spans(path: Path, quote: bytes, wanted: set[int]) -> tuple[dict[int, tuple[int, int]], int]:
    """``(start, end)`` of each wanted record (0-based, header records included) and
    the number of records, one chunk at a time: memory holds a chunk, not the file."""
    spans: dict[int, tuple[int, int]] = {}
    quote_byte = quote[0] if quote else None
    carry = 0  # quotes seen so far, modulo 2
    position = 0  # of the chunk in the file
    records = 0  # records ended before this chunk
    previous_end = 0  # where the record now being read began
    last = 10
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK):
            quoted = bool(carry) or (quote_byte is not None and quote in chunk)
            count = chunk.count(b"\n")
            if not quoted and not any(records <= n < records + count for n in wanted):
                # the common chunk: no quote in it, no wanted record ends in it
                if count:
                    previous_end = position + chunk.rfind(b"\n") + 1
                records += count
            else:
                ends = _ends(chunk, quote_byte if quoted else None, carry) + (position + 1)
                if quoted:
                    carry = (carry + chunk.count(quote)) % 2
                for number in (n for n in wanted if records <= n < records + len(ends)):
                    offset = number - records
                    start = int(ends[offset - 1]) if offset else previous_end
                    spans[number] = (start, int(ends[offset]))
                if len(ends):
                    previous_end = int(ends[-1])
                records += len(ends)
            position += len(chunk)
            last = chunk[-1]
    if position and last != 10:  # a last record without a line break
        if records in wanted:
            spans[records] = (previous_end, position)
        records += 1
    return spans, records


def read_records(
    path: Path, header_records: int, quote: str | None, wanted: Collection[int]
) -> Records | None:
    """The header and the data records ``wanted`` (0-based after the header) of ``path``.

    None when the file has fewer records than its header.
    """
    numbers = {header_records + index for index in wanted}
    if header_records:
        numbers.add(header_records - 1)
    spans, total = _spans(path, (quote or "").encode("utf-8")[:1], numbers)
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
