"""``discover index build|status|clear`` on a real provisioning directory, LDIF export and
roaming notification CSVs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from support.sqlite_lock import locked

from connectors import caches
from discover.cli import cli

FIXTURES = Path(__file__).parents[2] / "connectors"
PROVISIONING = FIXTURES / "fixtures" / "voip" / "provisioning"
PEOPLE_LDIF = FIXTURES / "ldap_data" / "people.ldif"
CLI = "from discover.cli import main; main()"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["index", *args])


def _sources(tmp_path: Path) -> Path:
    shutil.copytree(PROVISIONING, tmp_path / "provisioning")
    shutil.copy(PEOPLE_LDIF, tmp_path / "people.ldif")
    (tmp_path / "roaming").mkdir()
    for month, number in (("01", "0612345678"), ("02", "+31 6 87654321")):
        (tmp_path / "roaming" / f"roaming-2026-{month}.csv").write_text(
            "Bericht-ID;Verzonden;MSISDN;Land;Bericht\n"
            f"r{month}-1;2026-{month}-03 10:00;{number};BE;Welkom in Belgie\n",
            encoding="utf-8",
        )
    document = {
        "version": 1,
        "sources": [
            {
                "name": "provisioning",
                "kind": "voip",
                "mapping": "shipped:voip/provisioning.yaml",
                "connection": {"directory": "provisioning", "index_cache": "cache"},
            },
            {
                "name": "export",
                "kind": "ldif",
                "mapping": "shipped:directory/inetorgperson.yaml",
                "connection": {
                    "path": "people.ldif",
                    "base_dn": "dc=example,dc=org",
                    "index_cache": "cache",
                },
            },
            {
                "name": "roaming",
                "kind": "tabular",
                "mapping": "shipped:mobile/roaming-notifications.yaml",
                "connection": {"path": "roaming/*.csv", "index_cache": "cache"},
            },
        ],
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _rows(result: Result) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {row["source"]: row for row in json.loads(result.output)["sources"]}


def test_build_status_clear(tmp_path: Path) -> None:
    sources = str(_sources(tmp_path))
    before = _rows(invoke("status", "--sources", sources, "--json"))
    assert all(row["exists"] is False for row in before.values())

    built = _rows(invoke("build", "--sources", sources, "--json"))
    files = len([p for p in (tmp_path / "provisioning").rglob("*") if p.is_file()])
    assert built["provisioning"]["state"] == f"{files} file(s) read, 0 dropped"
    assert built["export"]["state"] == "export read and indexed"
    assert built["roaming"]["state"] == "2 file(s) read, 0 dropped"
    assert len(list((tmp_path / "cache").glob("*.sqlite"))) == 3

    again = _rows(invoke("build", "--sources", sources, "--json"))
    assert again["provisioning"]["state"] == "0 file(s) read, 0 dropped"
    assert again["export"]["state"] == "up to date"
    assert again["roaming"]["state"] == "0 file(s) read, 0 dropped"

    status = _rows(invoke("status", "--sources", sources, "--json"))
    assert status["provisioning"]["files"] == files
    assert status["provisioning"]["keys"] > 10
    assert status["export"]["values"] > 10
    assert (status["roaming"]["files"], status["roaming"]["keys"]) == (2, 2)
    assert status["roaming"]["path"].endswith(".sqlite")
    table = invoke("status", "--sources", sources)
    assert table.exit_code == 0 and "identifiers" in table.output

    cleared = _rows(invoke("clear", "--sources", sources, "--source", "export", "--json"))
    assert list(cleared) == ["export"] and cleared["export"]["state"] == "removed"
    assert len(list((tmp_path / "cache").glob("*.sqlite"))) == 2
    (tmp_path / "roaming" / "roaming-2026-01.csv").unlink()
    updated = _rows(invoke("build", "--sources", sources, "--source", "roaming", "--json"))
    assert updated["roaming"]["state"] == "0 file(s) read, 1 dropped"
    _rows(invoke("clear", "--sources", sources, "--json"))
    assert list((tmp_path / "cache").glob("*.sqlite")) == []


def test_unknown_source_and_bad_sources_file_exit_2(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    result = invoke("build", "--sources", str(sources), "--source", "nope")
    assert result.exit_code == 2
    assert "no source named 'nope'" in " ".join(result.output.split())
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nsources: [{name: x}]\n", encoding="utf-8")
    result = invoke("status", "--sources", str(broken))
    assert result.exit_code == 2
    assert "broken.yaml" in "".join(result.output.split())


def test_a_missing_directory_is_named_and_exits_1(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    shutil.rmtree(tmp_path / "provisioning")
    result = invoke("build", "--sources", str(sources), "--source", "provisioning", "--json")
    assert result.exit_code == 1
    rows = {row["source"]: row for row in json.loads(result.stdout)["sources"]}
    assert "does not exist" in rows["provisioning"]["state"]


def _build_in_new_process(sources: Path, hash_seed: str) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", CLI, "index", "build", "--sources", str(sources), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {row["source"]: row for row in json.loads(done.stdout)["sources"]}


def test_an_index_built_by_one_process_serves_the_next(tmp_path: Path) -> None:
    """Each search is a new process with its own hash seed: the index must still count."""
    sources = _sources(tmp_path)
    first = _build_in_new_process(sources, "1")
    assert first["provisioning"]["state"] != "0 file(s) read, 0 dropped"
    for seed in ("2", "3", "4", "5", "6"):  # the order of a set changes with the seed
        again = _build_in_new_process(sources, seed)
        assert again["provisioning"]["state"] == "0 file(s) read, 0 dropped", seed
        assert again["export"]["state"] == "up to date", seed
        assert again["roaming"]["state"] == "0 file(s) read, 0 dropped", seed


def test_an_index_another_process_keeps_locked_fails_its_build_and_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each source's index held by another process (a search or build that hangs):
    ``status`` says it is locked, not damaged; ``build`` fails each of those sources
    by name and exits 1; nothing is removed, and the next build finds them whole."""
    monkeypatch.setattr(caches, "BUSY_WAIT", 0.5)  # a minute otherwise
    monkeypatch.setattr(caches, "STATUS_WAIT", 0.2)
    sources = str(_sources(tmp_path))
    _rows(invoke("build", "--sources", sources, "--json"))
    indexes = sorted((tmp_path / "cache").glob("*.sqlite"))
    assert len(indexes) == 3
    inodes = [path.stat().st_ino for path in indexes]
    with locked(indexes[0]), locked(indexes[1]), locked(indexes[2]):
        status = _rows(invoke("status", "--sources", sources, "--json"))
        built = invoke("build", "--sources", sources, "--json")
    for row in status.values():
        assert row["busy"] is True and "damaged" not in row
        assert row["state"] == "locked by another search or index build (left as it is)"
    assert built.exit_code == 1
    rows = {row["source"]: row for row in json.loads(built.stdout)["sources"]}
    for name, row in rows.items():
        assert row["state"].startswith(f"failed: source '{name}': file index "), row
        assert row["state"].endswith("holds its lock and did not let go in time"), row
    assert [path.stat().st_ino for path in indexes] == inodes
    again = _rows(invoke("build", "--sources", sources, "--json"))
    assert again["provisioning"]["state"] == "0 file(s) read, 0 dropped"
    assert again["export"]["state"] == "up to date"
    assert again["roaming"]["state"] == "0 file(s) read, 0 dropped"
