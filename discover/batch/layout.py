"""Where a batch writes, and how it recognises work that is already done.

The output directory holds::

    DIR/cases/<request id>/            the case (request.json, hits.parquet, summary.json)
    DIR/cases/<request id>/batch.json  the marker: written last, after the package
    DIR/packages/<request id>-<kind>/  the package (manifest.json with SHA-256 per file)
    DIR/batch-report.json              the report of the last run
    DIR/.locks/                        one lock file per request, and the batch's own

Every path follows from the request id and kind alone, so rerunning a batch writes
to the same places and never makes a second copy. A request counts as done when its
marker carries the same fingerprint (the same row, the same formats), its package
exists and every file still matches the manifest's checksum. Anything else (no
marker, another fingerprint, a file missing or changed) is done again; the case and
package are then replaced (the package atomically, by :class:`PackageWriter`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discover.errors import InputError
from discover.files import private_dir, write_json
from exporters.package import MANIFEST, sha256_file, verify_package

CASES = "cases"
PACKAGES = "packages"
REPORT = "batch-report.json"
MARKER = "batch.json"
LOCKS = ".locks"
#: staging leftovers of a killed writer: packages/.NAME.tmp-xxxx, .NAME.old-xxxx,
#: cases/.ID.tmp-xxxx, cases/ID/.FILE.xxxx.part
_STALE_DIR_MARKS = (".tmp-", ".old-")


@dataclass(frozen=True, slots=True)
class Done:
    """A request whose package is complete and verified."""

    package: Path
    package_sha256: str
    run_id: str | None


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one batch output directory."""

    root: Path

    @property
    def cases(self) -> Path:
        return self.root / CASES

    @property
    def packages(self) -> Path:
        return self.root / PACKAGES

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def locks(self) -> Path:
        return self.root / LOCKS

    def case(self, request_id: str) -> Path:
        return self.cases / request_id

    def marker(self, request_id: str) -> Path:
        return self.case(request_id) / MARKER

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def prepare(self) -> None:
        """Create the output's folders (0700 where discover creates them).

        An existing directory that holds other things and nothing of a batch is not
        taken over: its files are someone else's.
        """
        if self.root.is_dir():
            names = {entry.name for entry in self.root.iterdir()}
            if names and not names & {CASES, PACKAGES, REPORT, LOCKS}:
                shown = ", ".join(repr(name) for name in sorted(names)[:3])
                raise InputError(
                    f"{self.root} is not empty and holds no batch output ({shown}"
                    f"{' …' if len(names) > 3 else ''}); choose a new or empty --out"
                )
        for folder in (self.root, self.cases, self.packages, self.locks):
            private_dir(folder)


def read_marker(layout: Layout, request_id: str) -> dict[str, Any] | None:
    try:
        document = json.loads(layout.marker(request_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def write_marker(layout: Layout, request_id: str, document: dict[str, Any]) -> None:
    write_json(layout.marker(request_id), document)


def remove_marker(layout: Layout, request_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        layout.marker(request_id).unlink()


def completed(layout: Layout, request_id: str, fingerprint: str) -> Done | None:
    """The verified package of a request done earlier with the same fingerprint, or None."""
    marker = read_marker(layout, request_id)
    if not marker or marker.get("fingerprint") != fingerprint or not marker.get("package"):
        return None
    package = layout.root / marker["package"]
    if verify_package(package):
        return None
    try:
        manifest = json.loads((package / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("request_id") != request_id or manifest.get("complete") is False:
        return None
    return Done(package, sha256_file(package / MANIFEST), marker.get("run_id"))


def remove_package(path: Path) -> None:
    """Take a stale package away: renamed out of sight first, so no reader sees half of it."""
    if not path.exists():
        return
    aside = path.parent / f".{path.name}.old-{os.getpid()}-{time.monotonic_ns()}"
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def clean_stale(layout: Layout) -> int:
    """Remove what killed writers left behind (staging dirs, temporary files).

    Only call this while no writer works in the directory: before a batch starts its
    shards, or after every shard has finished.
    """
    removed = 0
    if layout.packages.is_dir():
        for entry in layout.packages.iterdir():
            if entry.name.startswith(".") and any(m in entry.name for m in _STALE_DIR_MARKS):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
    if layout.cases.is_dir():
        for case in layout.cases.iterdir():
            if not case.is_dir():
                continue
            if case.name.startswith(".") and any(m in case.name for m in _STALE_DIR_MARKS):
                shutil.rmtree(case, ignore_errors=True)  # a case built aside, never swapped in
                removed += 1
                continue
            for entry in case.glob(".*.part"):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
    return removed


@contextlib.contextmanager
def _flock(path: Path, *, blocking: bool) -> Iterator[bool]:
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def request_lock(layout: Layout, request_id: str) -> Iterator[None]:
    """Serialise writers of one request (a shard delivered twice runs twice)."""
    with _flock(layout.locks / f"{request_id}.lock", blocking=True):
        yield


@contextlib.contextmanager
def batch_lock(layout: Layout) -> Iterator[None]:
    """One batch coordinator per output directory at a time."""
    with _flock(layout.locks / "batch.lock", blocking=False) as acquired:
        if not acquired:
            raise InputError(
                f"{layout.root}: another batch is writing to this directory; "
                "wait for it or choose another --out"
            )
        yield
