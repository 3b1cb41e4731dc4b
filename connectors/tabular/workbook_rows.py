"""A workbook sheet's searchable cells, kept beside the index so a search need not parse it.

calamine parses a whole sheet to give any row of it: about 0.6 s and 150 MB for a
100,000-row SIM inventory, on every search the index points into that sheet, however
few rows it needs. When a sheet is parsed whole anyway (the index is built, or rows
are read and no copy is kept yet), the cells a search can use are kept as a Parquet
file beside the index:

* every cell of the header rows: the column titles, to find the columns again;
* in the data rows, the text of the mapped columns only. A secret column (a PUK code,
  an alarm codeword) is kept as "filled or not", which is all a search takes from it;
  a column the mapping does not name is not kept at all.

A copy answers only for the workbook's content it was taken from, byte for byte: the
SHA-256 of the file is stored with it and computed again for every use (about 10 ms for
an 8 MB workbook), together with a digest of the mapping and of the reader. Other
content, another mapping or another version, and the sheet is parsed again (and the
copy replaced). Rows read from a copy are verified by the connector like rows read from
the workbook. Files are 0600 in the index directory (0700); ``index: false`` keeps
none and ``discover index clear`` removes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from connectors.safe_files import open_regular
from connectors.tabular.exprs import clean
from discover.files import atomic_open

#: the key of the :class:`WorkbookRows` in a reader cache
ROWS = "workbook-rows"
#: a secret cell that holds something (its value is never kept)
FILLED = "*"
_META = "discover.workbook-rows"
_CHUNK = 1 << 20


def content_digest(workbook: Path) -> str | None:
    """The SHA-256 of the workbook's bytes; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open_regular(workbook) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def reduced(loaded: pl.DataFrame, header_rows: int, kept: dict[str, bool]) -> pl.DataFrame:
    """``loaded`` (every cell as text, header rows first) with only what may be kept.

    ``kept``: reader column -> whether it is secret. The header rows keep every cell;
    the data rows keep the columns in ``kept``, a secret one as :data:`FILLED` or null.
    """
    header = pl.int_range(pl.len()) < header_rows
    columns: list[pl.Expr] = []
    for name in loaded.columns:
        text = pl.col(name).cast(pl.String)
        if name not in kept:
            data = pl.lit(None, pl.String)
        elif kept[name]:
            data = pl.when(clean(text).is_not_null()).then(pl.lit(FILLED)).otherwise(None)
        else:
            data = text
        columns.append(pl.when(header).then(text).otherwise(data).alias(name))
    return loaded.select(columns)


@dataclass(frozen=True, slots=True)
class Copy:
    """A sheet's kept cells: its name and every row (header rows included)."""

    sheet: str
    frame: pl.DataFrame


class WorkbookRows:
    """Kept sheets of workbooks, one Parquet file per sheet, valid for one content.

    ``settings``: a digest of what the kept cells depend on besides the file (the
    mapping, the reader's version); ``directory`` None keeps nothing.
    """

    def __init__(self, directory: Path | None, settings: str) -> None:
        self.directory = directory
        self.settings = settings

    def _prefix(self, workbook: Path) -> str:
        name = os.fsencode(workbook.resolve())  # any name, even one that is not UTF-8
        return f"workbook-{hashlib.sha256(name).hexdigest()[:24]}-rows-"

    def _file(self, workbook: Path, ordinal: int) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{self._prefix(workbook)}{self.settings[:16]}-{ordinal}.parquet"

    def load(self, workbook: Path, ordinal: int, content: str) -> Copy | None:
        """Sheet ``ordinal`` as kept from the workbook with this ``content`` digest."""
        file = self._file(workbook, ordinal)
        if file is None:
            return None
        try:
            meta = json.loads(pl.read_parquet_metadata(file).get(_META, ""))
            if meta.get("content") != content or meta.get("settings") != self.settings:
                return None
            frame = pl.read_parquet(file)
        except FileNotFoundError:
            return None
        except Exception:  # damaged or from another version: parsed again, and replaced
            return None
        if frame.height != meta.get("rows") or not isinstance(meta.get("sheet"), str):
            return None
        return Copy(meta["sheet"], frame)

    def save(self, workbook: Path, ordinal: int, content: str, copy: Copy) -> None:
        """Keep ``copy`` (already :func:`reduced`) for the workbook with ``content``.

        Written whole under another name and renamed, so a search never reads half a
        copy; a copy that cannot be written is left out (the sheet is parsed next time).
        """
        file = self._file(workbook, ordinal)
        if file is None:
            return
        meta = {
            "content": content,
            "settings": self.settings,
            "sheet": copy.sheet,
            "rows": copy.frame.height,
        }
        try:
            with atomic_open(file, "wb") as out:  # 0600 in a 0700 directory
                copy.frame.write_parquet(out, metadata={_META: json.dumps(meta)})
        except (OSError, pl.exceptions.PolarsError):
            return

    def forget(self, workbook: Path) -> None:
        """Remove every copy kept of ``workbook`` (``discover index clear``)."""
        if self.directory is None or not self.directory.is_dir():
            return
        for file in self.directory.glob(f"{self._prefix(workbook)}*.parquet"):
            with contextlib.suppress(OSError):
                file.unlink()
