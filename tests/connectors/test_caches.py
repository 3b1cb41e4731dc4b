"""Cache settings digests: equal for equal settings in every process, different otherwise."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from connectors.caches import cache_dir, settings_digest

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
