"""Cache settings digests: equal for equal settings in every process, different otherwise.
An index file another process keeps locked is told apart from a damaged one."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.sqlite_lock import locked

from connectors import caches
from connectors.caches import cache_dir, settings_digest
from discover.time_limit import run_within

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = """
from connectors.caches import settings_digest
print(settings_digest(frozenset({"phone", "email", "name", "mac", "imei"}), {"b": {1, 2}, "a": 3}))
"""


def _digest_with_seed(seed: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    return done.stdout.strip()


def test_the_digest_of_sets_does_not_depend_on_the_hash_seed() -> None:
    digests = {_digest_with_seed(seed) for seed in ("0", "1", "2", "3", "4", "5")}
    assert len(digests) == 1


@dataclass(frozen=True)
class _Settings:
    types: frozenset[str]
    pattern: re.Pattern[str]


def test_a_change_anywhere_changes_the_digest() -> None:
    base = _Settings(frozenset({"phone"}), re.compile("a"))
    assert settings_digest(base) == settings_digest(
        _Settings(frozenset({"phone"}), re.compile("a"))
    )
    assert settings_digest(base) != settings_digest(
        _Settings(frozenset({"phone", "email"}), re.compile("a"))
    )
    assert settings_digest(base) != settings_digest(
        _Settings(frozenset({"phone"}), re.compile("b"))
    )
    assert settings_digest(base, 1) != settings_digest(base, 2)


def test_cache_dir_prefers_the_setting_then_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISCOVER_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir("rel", tmp_path, "x") == tmp_path / "rel"
    assert cache_dir(None, tmp_path, "x") == tmp_path / "env" / "x"
    monkeypatch.delenv("DISCOVER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir(None, tmp_path, "x") == tmp_path / "xdg" / "discover" / "x"


def _index(path: Path) -> Path:
    with caches.private_sqlite(path) as connection, connection:
        connection.execute("CREATE TABLE files (path TEXT)")
        connection.execute("CREATE TABLE keys (key TEXT)")
        connection.execute("INSERT INTO files VALUES ('a.csv')")
    return path


class _Owner:
    """Stands in for a connector whose work runs under a time limit."""


def test_a_lock_another_process_holds_is_waited_for_with_patience_then_named(
    tmp_path: Path,
) -> None:
    """Within a source's time limit a search waits half its time left, then IndexBusy
    (not the "database is locked" a damaged index would be taken for); the file and
    what it holds are untouched, and the next connection reads it."""
    path = _index(tmp_path / "index.sqlite")

    def read() -> int:
        with caches.patient_sqlite(path) as connection:
            return connection.execute("SELECT count(*) FROM files").fetchone()[0]

    assert caches.busy_wait() == caches.BUSY_WAIT  # no time limit (`discover index build`)
    assert run_within(_Owner(), 300, caches.busy_wait) == caches.BUSY_WAIT
    assert 0.9 < run_within(_Owner(), 2, caches.busy_wait) <= 1
    with locked(path):
        started = time.monotonic()
        with pytest.raises(caches.IndexBusy, match="holds its lock and did not let go"):
            run_within(_Owner(), 2, read)
        took = time.monotonic() - started
    assert 0.8 < took < 1.9  # half the time left, not the minute of BUSY_WAIT
    assert run_within(_Owner(), 2, read) == 1


def test_other_sqlite_errors_are_not_taken_for_a_lock(tmp_path: Path) -> None:
    path = _index(tmp_path / "index.sqlite")
    with (
        pytest.raises(sqlite3.OperationalError, match="no such table"),
        caches.patient_sqlite(path) as connection,
    ):
        connection.execute("SELECT * FROM missing")
    path.write_bytes(b"this is not an index\x00" * 100)
    with (
        pytest.raises(sqlite3.DatabaseError, match="not a database"),
        caches.patient_sqlite(path) as connection,
    ):
        connection.execute("SELECT count(*) FROM files")


def test_status_says_locked_not_damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _index(tmp_path / "index.sqlite")
    monkeypatch.setattr(caches, "STATUS_WAIT", 0.2)
    keys = "SELECT count(*) FROM keys"
    with locked(path):
        assert caches.index_status(path, keys) == {"path": str(path), "exists": True, "busy": True}
    assert caches.index_status(path, keys)["files"] == 1
    path.write_bytes(b"this is not an index\x00" * 100)
    assert caches.index_status(path, keys)["damaged"] is True
