"""``discover scan``: JSON findings with "mapped", exit codes, real database servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result

from discover.cli import cli
from discover.demo.databases import build_crm


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["scan", *args])


def _crm(url: str, tmp_path: Path, *, extra: bool) -> Path:
    engine = sa.create_engine(url)
    try:
        build_crm(engine)
        if extra:
            with engine.begin() as connection:
                connection.execute(sa.text("ALTER TABLE contacts ADD private_mail VARCHAR(100)"))
                connection.execute(
                    sa.text("UPDATE contacts SET private_mail = CONCAT('p', id, '@home.example')")
                    if not url.startswith("sqlite")
                    else sa.text("UPDATE contacts SET private_mail = 'p' || id || '@home.example'")
                )
    finally:
        engine.dispose()
    source = {
        "name": "crm",
        "kind": "sql",
        "mapping": "shipped:demo/crm.yaml",
        "connection": {"url": url},
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), "utf-8")
    return path


@pytest.mark.parametrize("server", ["sqlite", "postgres", "mariadb"])
def test_json_reports_the_unmapped_column_and_exits_1(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{server}_url")
    result = invoke("--sources", str(_crm(url, tmp_path, extra=True)), "--json", "--sample", "50")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    (crm,) = report["sources"]
    by_place = {(f["location"], f["field"]): f for f in crm["findings"]}
    assert by_place[("contacts", "private_mail")]["mapped"] is False
    assert by_place[("contacts", "private_mail")]["type"] == "email"
    assert by_place[("contacts", "email")]["mapped"] is True
    assert report["unmapped"] == 1 and report["ok"] is False
    assert 0 < crm["coverage"] < 1


def test_a_fully_mapped_source_exits_0_with_a_table(sqlite_url: str, tmp_path: Path) -> None:
    result = invoke("--sources", str(_crm(sqlite_url, tmp_path, extra=False)))
    assert result.exit_code == 0, result.output
    assert "mapping covers 100%" in result.stdout


def test_an_unreachable_source_is_named_and_exits_1(tmp_path: Path) -> None:
    source = {
        "name": "gone",
        "kind": "sql",
        "mapping": "shipped:demo/crm.yaml",
        "connection": {"url": "sqlite:///missing.sqlite"},
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), "utf-8")
    result = invoke("--sources", str(path))
    assert result.exit_code == 1
    assert "gone (sql): not scanned" in " ".join(result.stdout.split())


def test_bad_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\nsources: nope\n", "utf-8")
    result = invoke("--sources", str(path))
    assert result.exit_code == 2
    assert "sources.yaml" in result.output and "Traceback" not in result.output
    result = invoke("--sources", str(path), "--sample", "0")
    assert result.exit_code == 2
