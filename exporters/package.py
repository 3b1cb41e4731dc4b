"""Package directories: built aside, checksummed, then renamed into place.

A package is a directory. It is written under a temporary name next to its final
place; every file is 0600 and the directory 0700; a ``manifest.json`` lists every
file with its size and SHA-256; only then is the directory renamed to its final
name. A reader therefore sees either no package or a complete one, even when the
export is killed halfway. An existing package is replaced only with ``force``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from discover.errors import ExportError
from discover.files import FILE_MODE, fsync_dir, private_dir, write_json

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PackageWriter:
    """Collects a package's files in a private staging directory."""

    def __init__(self, final: Path, *, force: bool = False) -> None:
        self.final = final
        self.force = force
        if final.exists() and not force:
            raise ExportError(f"{final} exists already; pass --force to replace it")
        private_dir(final.parent)
        self.staging = final.parent / f".{final.name}.tmp-{secrets.token_hex(4)}"
        private_dir(self.staging)
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """Where a file of the package is staged (subdirectories are created 0700)."""
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ExportError(f"package file names must be relative: {name!r}")
        target = self.staging / name
        private_dir(target.parent)
        if name not in self.files:
            self.files.append(name)
        return target

    @contextlib.contextmanager
    def open(self, name: str, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
        """Open a package file for writing, created 0600."""
        target = self.path(name)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.open(name, "wb") as handle:
            handle.write(data)

    def manifest(self, meta: dict[str, Any]) -> dict[str, Any]:
        entries = []
        for name in sorted(self.files):
            path = self.staging / name
            os.chmod(path, FILE_MODE)
            entries.append(
                {"path": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            )
        return {
            "manifest_version": MANIFEST_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **meta,
            "files": entries,
        }

    def commit(self, meta: dict[str, Any]) -> Path:
        """Write the manifest and move the package into place; returns its path."""
        write_json(self.staging / MANIFEST, self.manifest(meta))
        fsync_dir(self.staging)
        old: Path | None = None
        if self.final.exists():
            if not self.force:
                raise ExportError(f"{self.final} appeared meanwhile; not replacing it")
            old = self.final.parent / f".{self.final.name}.old-{secrets.token_hex(4)}"
            os.rename(self.final, old)
        os.rename(self.staging, self.final)
        fsync_dir(self.final.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if exc_type is not None:
            self.abort()


def verify_package(path: Path) -> list[str]:
    """Problems with a package on disk: missing files, wrong sizes or checksums."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return [f"{path}: no {MANIFEST}"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{manifest_path}: unreadable ({exc})"]
    problems = []
    for entry in manifest.get("files", []):
        file = path / entry["path"]
        if not file.is_file():
            problems.append(f"{entry['path']}: missing")
        elif file.stat().st_size != entry["bytes"]:
            problems.append(f"{entry['path']}: size differs from the manifest")
        elif sha256_file(file) != entry["sha256"]:
            problems.append(f"{entry['path']}: SHA-256 differs from the manifest")
    return problems
