"""What a hit's row holds, worked out without Arrow: how strongly it matched, and a
stored value as text.

Apart from :mod:`discover.hits` so that a search scans its sources before pyarrow
has loaded (about 0.1 s of a warm search's start): the engine renders every record's
values with these, and builds the Arrow table only once the scans are done.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

MatchKind = Literal["exact", "normalised", "related", "expanded", "possible"]
#: strongest first; a record matched several ways takes the strongest.
MATCH_KINDS: tuple[str, ...] = ("exact", "normalised", "expanded", "related", "possible")

ValueType = Literal["text", "integer", "decimal", "boolean", "date", "datetime", "time", "binary"]


def render_value(value: Any) -> tuple[str | None, str]:
    """A stored value as (text, value_type); bytes become a size and a digest."""
    if value is None:
        return None, "text"
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if isinstance(value, int):
        return str(value), "integer"
    if isinstance(value, float | Decimal):
        return str(value), "decimal"
    if isinstance(value, datetime):
        return value.isoformat(), "datetime"
    if isinstance(value, date):
        return value.isoformat(), "date"
    if isinstance(value, time):
        return value.isoformat(), "time"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        digest = hashlib.sha256(data).hexdigest()
        return f"<binary: {len(data)} bytes, sha256 {digest}>", "binary"
    return str(value), "text"


#: image formats a package may hold as files, by their first bytes
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MAX_EMBEDDED = 2 * 1024 * 1024


def embedded_image(value: Any) -> str | None:
    """A photo (bytes of a JPEG, PNG or GIF up to 2 MB) as a data URI, so that a package
    can hold it as an image file; anything else None (it stays size and digest)."""
    if not isinstance(value, bytes | bytearray | memoryview):
        return None
    data = bytes(value)
    if len(data) > MAX_EMBEDDED:
        return None
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return None
