"""A flat provisioning directory (no client subdirectories): the live check names the fix
that fits, and a sources-file override of the scope applies it without a copied mapping."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner
from voip_helpers import PROVISIONING

from discover.cli import cli


def _check(tmp_path: Path, **extra: object) -> tuple[int, dict]:
    flat = tmp_path / "flat"
    if not flat.exists():
        shutil.copytree(PROVISIONING / "acme", flat)
    source = {
        "name": "prov",
        "kind": "voip",
        "mapping": "shipped:voip/provisioning.yaml",
        "connection": {"directory": str(flat)},
        **extra,
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), "utf-8")
    result = CliRunner().invoke(
        cli, ["mappings", "check", "--sources", str(path), "--live", "--json"]
    )
    return result.exit_code, json.loads(result.stdout)["sources"][0]


def test_the_live_check_names_the_scope_override(tmp_path: Path) -> None:
    code, report = _check(tmp_path)
    assert code == 1
    (problem,) = report["problems"]
    assert "lie outside a client directory" in problem
    assert "override: {scope: {from: none}}" in problem


def test_the_override_in_the_sources_file_fixes_it(tmp_path: Path) -> None:
    code, report = _check(tmp_path, override={"scope": {"from": "none"}})
    assert (code, report["problems"]) == (0, [])
