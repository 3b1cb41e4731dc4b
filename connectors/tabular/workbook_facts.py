"""What reading a workbook learnt that would cost another full read, kept between searches.

A workbook (XLSX, ODS) cannot be read in part: calamine parses a whole sheet for
every ``load_sheet``, half a second for a 100,000-row inventory. Two facts cost one
such read each on every search, although they only change when the file does:

* that the archive is not a decompression bomb (every member inflated once);
* which cells of an ICCID column are number cells (their digits were lost, see
  :func:`connectors.tabular.read._number_cells`).

They are kept per workbook in a small JSON file under the cache directory, stamped
with the workbook's size, ``mtime_ns`` and inode: another stamp and the facts are
learnt again. They hold no personal data: a flag, and row numbers. The directory is
created with mode 0700 and each file with mode 0600; a file that cannot be read or
written is ignored (the facts are then learnt by reading the workbook, as before).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from discover.files import atomic_open

Stamp = list[int]  # size, mtime_ns, inode


def _stamp(path: Path) -> Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def as_runs(flags: list[bool]) -> list[list[int]]:
    """Row numbers whose flag is set, as ``[start, end)`` runs (a column is often all one)."""
    runs: list[list[int]] = []
    for row, flag in enumerate(flags):
        if not flag:
            continue
        if runs and runs[-1][1] == row:
            runs[-1][1] = row + 1
        else:
            runs.append([row, row + 1])
    return runs


def from_runs(runs: list[list[int]], length: int) -> list[bool]:
    """The flags of ``length`` rows from :func:`as_runs`."""
    flags = [False] * length
    for start, end in runs:
        flags[start:end] = [True] * (end - start)
    return flags


class WorkbookFacts:
    """Facts about workbooks, one JSON file each, valid while the workbook is unchanged."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def _file(self, workbook: Path) -> Path | None:
        if self.directory is None:
            return None
        name = os.fsencode(workbook.resolve())  # any name, even one that is not UTF-8
        digest = hashlib.sha256(name).hexdigest()[:24]
        return self.directory / f"workbook-{digest}.json"

    def _load(self, workbook: Path) -> dict[str, Any]:
        file = self._file(workbook)
        stamp = _stamp(workbook)
        if file is None or stamp is None:
            return {}
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("stamp") != stamp:
            return {}
        facts = document.get("facts")
        return facts if isinstance(facts, dict) else {}

    def get(self, workbook: Path, key: str) -> Any:
        """The fact ``key`` learnt from this workbook as it is now; None when not known."""
        return self._load(workbook).get(key)

    def known(self, workbook: Path) -> set[str]:
        """The keys of the facts learnt from this workbook as it is now."""
        return set(self._load(workbook))

    def put(self, workbook: Path, key: str, value: Any, stamp: Stamp | None) -> None:
        """Keep ``value`` for the workbook as it was when read (``stamp`` taken before)."""
        file = self._file(workbook)
        if file is None or stamp is None or _stamp(workbook) != stamp:
            return  # changed while it was read: learn it again next time
        facts = self._load(workbook)
        facts[key] = value
        with contextlib.suppress(OSError), atomic_open(file, "w", encoding="utf-8") as out:
            json.dump({"stamp": stamp, "facts": facts}, out)  # 0600 in a 0700 directory

    def forget(self, workbook: Path) -> None:
        """Remove what is kept about ``workbook`` (``discover index clear``)."""
        file = self._file(workbook)
        if file is not None:
            with contextlib.suppress(OSError):
                file.unlink()

    @staticmethod
    def stamp(workbook: Path) -> Stamp | None:
        """The workbook's stamp now: take it before reading, pass it to :meth:`put`."""
        return _stamp(workbook)
