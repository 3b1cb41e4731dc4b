"""Package directories: built aside, checksummed, then renamed into place.

A package is a directory. It is written under a temporary name next to its final
place (``.NAME.tmp-PID-TOKEN``); every file is 0600 and every directory 0700; a
``SHA256SUMS`` file (``sha256sum -c`` format) and a ``manifest.json`` list every file
with its size and SHA-256; only then is the directory renamed to its final name. A
reader therefore sees either no package or a complete one, even when the export is
killed halfway (kill -9 included: nothing is ever written under the final name).

An existing package is replaced only with ``force``, and then by an atomic exchange
of the two directories (Linux ``renameat2(RENAME_EXCHANGE)``), so that the final
name holds the old complete package or the new complete one at every moment. Where
the exchange is unavailable, the old package is moved aside first (a crash in
between leaves no package, never a partial one). Leftovers of killed exports
(staging or moved-aside directories whose process is gone) are removed by the next
export to the same place.
"""

from __future__ import annotations

import contextlib
import errno
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
from discover.files import (
    FILE_MODE,
    exchange,
    fsync_dir,
    private_dir,
    remove_leftovers,
    sha256_file,
    write_bytes,
)
from exporters.schemas import MANIFEST as MANIFEST_SCHEMA
from exporters.schemas import validate

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
MANIFEST_VERSION = 1
SCRATCH = ".scratch"


class PackageWriter:
    """Collects a package's files in a private staging directory."""

    def __init__(self, final: Path, *, force: bool = False) -> None:
        self.final = final
        self.force = force
        if final.exists() and not force:
            raise ExportError(f"{final} exists already; pass --force to replace it")
        private_dir(final.parent)
        remove_leftovers(final)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.staging = final.parent / f".{final.name}.tmp-{token}"
        self._aside = final.parent / f".{final.name}.old-{token}"
        private_dir(self.staging)
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """Where a file of the package is staged (subdirectories are created 0700)."""
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or name in (MANIFEST, CHECKSUMS):
            raise ExportError(f"package file names must be relative and not reserved: {name!r}")
        target = self.staging / name
        private_dir(target.parent)
        if name not in self.files:
            self.files.append(name)
        return target

    def scratch_dir(self) -> Path:
        """A private directory for a writer's temporary files (removed before commit)."""
        return private_dir(self.staging / SCRATCH)

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

    def _entries(self) -> list[dict[str, Any]]:
        entries = []
        for name in sorted(self.files):
            path = self.staging / name
            os.chmod(path, FILE_MODE)
            entries.append(
                {"path": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            )
        return entries

    def _seal(self, meta: dict[str, Any]) -> None:
        """Write SHA256SUMS and manifest.json for the files staged so far."""
        entries = self._entries()
        sums = "".join(f"{e['sha256']}  {e['path']}\n" for e in entries)
        write_bytes(self.staging / CHECKSUMS, sums.encode("utf-8"))
        entries.append(
            {
                "path": CHECKSUMS,
                "bytes": len(sums.encode("utf-8")),
                "sha256": hashlib.sha256(sums.encode("utf-8")).hexdigest(),
            }
        )
        entries.sort(key=lambda e: e["path"])
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **meta,
            "files": entries,
        }
        validate(manifest, MANIFEST_SCHEMA, what=MANIFEST)
        text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        write_bytes(self.staging / MANIFEST, text.encode("utf-8"))

    def commit(self, meta: dict[str, Any], *, passphrase: str | None = None) -> Path:
        """Seal the package (optionally encrypt it) and move it into place."""
        shutil.rmtree(self.staging / SCRATCH, ignore_errors=True)
        self._seal({**meta, "encrypted": False})
        if passphrase is not None:
            from exporters.encrypt import encrypt_directory

            archive = f"{self.final.name}.zip"
            inner = [*self.files, CHECKSUMS, MANIFEST]
            encrypt_directory(self.staging, inner, archive, self.final.name, passphrase)
            for name in inner:
                (self.staging / name).unlink()
            for child in sorted(self.staging.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
            self.files = [archive]
            self._seal({**meta, "encrypted": True})
        fsync_dir(self.staging)
        if self.final.exists():
            if not self.force:
                raise ExportError(f"{self.final} appeared meanwhile; not replacing it")
            if exchange(self.staging, self.final):
                fsync_dir(self.final.parent)
                shutil.rmtree(self.staging, ignore_errors=True)  # now holds the old package
                return self.final
            os.rename(self.final, self._aside)
        try:
            os.rename(self.staging, self.final)
        except OSError as exc:  # another export got there between the check and the rename
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise ExportError(f"{self.final} appeared meanwhile; not replacing it") from None
            raise
        fsync_dir(self.final.parent)
        shutil.rmtree(self._aside, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if exc_type is not None:
            self.abort()


def verify_package(path: Path) -> list[str]:
    """Problems with a package on disk: missing or unlisted files, wrong sizes or checksums."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return [f"{path}: no {MANIFEST}"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{manifest_path}: unreadable ({exc})"]
    problems = []
    listed = set()
    for entry in entries:
        listed.add(entry["path"])
        file = path / entry["path"]
        if not file.is_file():
            problems.append(f"{entry['path']}: missing")
        elif file.stat().st_size != entry["bytes"]:
            problems.append(f"{entry['path']}: size differs from the manifest")
        elif sha256_file(file) != entry["sha256"]:
            problems.append(f"{entry['path']}: SHA-256 differs from the manifest")
    for file in path.rglob("*"):
        name = file.relative_to(path).as_posix()
        if file.is_file() and name != MANIFEST and name not in listed:
            problems.append(f"{name}: not in the manifest")
    return problems
