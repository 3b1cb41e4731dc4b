"""Package directories: private modes, manifest and checksums, atomic replacement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from discover.errors import ExportError
from exporters.package import MANIFEST, PackageWriter, remove_leftovers, verify_package


def _write(final: Path, content: bytes, *, force: bool = False) -> Path:
    with PackageWriter(final, force=force) as writer:
        writer.write_bytes("a.txt", content)
        writer.write_bytes("sub/b.txt", b"b")
        return writer.commit({"request_id": "R", "kind": "access"})


def test_manifest_lists_every_file_with_size_and_sha256(tmp_path: Path) -> None:
    package = _write(tmp_path / "pkg", b"hello")
    manifest = json.loads((package / MANIFEST).read_text())
    assert [e["path"] for e in manifest["files"]] == ["SHA256SUMS", "a.txt", "sub/b.txt"]
    entry = manifest["files"][1]
    assert entry["bytes"] == 5
    assert entry["sha256"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=package, capture_output=True, check=True
    )
    assert b"a.txt: OK" in sums.stdout
    assert verify_package(package) == []


def test_verify_finds_changed_missing_and_extra_files(tmp_path: Path) -> None:
    package = _write(tmp_path / "pkg", b"hello")
    (package / "a.txt").write_bytes(b"HELLO")
    (package / "sub" / "b.txt").unlink()
    (package / "smuggled.txt").write_bytes(b"x")
    problems = "\n".join(verify_package(package))
    assert "a.txt: SHA-256 differs" in problems
    assert "sub/b.txt: missing" in problems
    assert "smuggled.txt: not in the manifest" in problems


def test_modes_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        package = _write(tmp_path / "pkg", b"x")
    finally:
        os.umask(old)
    for path in [package, *package.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600)


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), PackageWriter(tmp_path / "pkg") as writer:
        writer.write_bytes("a.txt", b"x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_replace_needs_force_and_is_atomic(tmp_path: Path) -> None:
    _write(tmp_path / "pkg", b"old")
    with pytest.raises(ExportError, match="exists already"):
        _write(tmp_path / "pkg", b"new")
    package = _write(tmp_path / "pkg", b"new", force=True)
    assert (package / "a.txt").read_bytes() == b"new"
    assert verify_package(package) == []
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]


def test_reserved_and_escaping_names_are_refused(tmp_path: Path) -> None:
    with PackageWriter(tmp_path / "pkg") as writer:
        for name in ("../x", "/etc/x", MANIFEST, "SHA256SUMS"):
            with pytest.raises(ExportError):
                writer.path(name)
        writer.abort()


def test_leftovers_of_dead_exports_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".pkg.tmp-{pid}-deadbeef"
    stale.mkdir()
    (stale / "half.json").write_text("{")
    aside = tmp_path / f".pkg.old-{pid}-cafebabe"
    aside.mkdir()
    mine = tmp_path / f".pkg.tmp-{os.getpid()}-0123abcd"  # a live export: kept
    mine.mkdir()
    other = tmp_path / f".other.tmp-{pid}-deadbeef"  # another package: kept
    other.mkdir()
    removed = remove_leftovers(tmp_path / "pkg")
    assert sorted(removed) == sorted([stale, aside])
    assert mine.exists() and other.exists()
