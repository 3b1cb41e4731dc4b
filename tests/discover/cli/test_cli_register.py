"""`discover register check`: every gap between the register and the privacy statement."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from discover.cli import cli
from discover.config import shipped_path


def test_lists_every_gap_and_exits_1() -> None:
    result = CliRunner().invoke(cli, ["register", "check"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "managed_it.directory: not in the privacy statement (in_statement: false)" in text
    assert "alarm.keyholder: recipient 'alarm_centre': not named in the privacy statement" in text
    assert "general.contact: recipients: not stated in the privacy statement" in text
    assert "categories not in the statement: managed_it.directory" in text


def test_json_and_a_register_without_gaps(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["register", "check", "--json"])
    document = json.loads(result.output)
    assert {
        "category": "managed_it.directory",
        "kind": "category",
        "item": "category",
        "text": "not in the privacy statement (in_statement: false)",
    } in document["gaps"]
    shipped = yaml.safe_load(shipped_path("register.yaml").read_text(encoding="utf-8"))
    shipped["categories"] = [c for c in shipped["categories"] if c["id"] == "usage.calls"]
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
    clean = CliRunner().invoke(cli, ["register", "check", "--register", str(path)])
    assert clean.exit_code == 0, clean.output
    assert "0 gap(s)" in clean.output


def test_a_malformed_register_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "register.yaml"
    path.write_text("version: 1\ncategories: []\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["register", "check", "--register", str(path)])
    assert result.exit_code == 2
    assert "register.yaml" in result.output
