"""``discover mappings check --live``: what exists, nearest first, and values that do not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from discover.cli import cli


def _estate(url: str, tmp_path: Path, columns: dict) -> Path:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TABLE staff (id INTEGER PRIMARY KEY, email VARCHAR(80), "
                    "mobile VARCHAR(30), ext VARCHAR(30))"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO staff VALUES (1, 'jan@example.nl', '0612345678', '+31102345201')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO staff VALUES (2, 'zoe@example.nl', '0687654321', '+31102345202')"
                )
            )
    finally:
        engine.dispose()
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {"staff": {"key": "id", "category": "general.contact", "columns": columns}},
    }
    (tmp_path / "staff.yaml").write_text(yaml.safe_dump(mapping), "utf-8")
    source = {"name": "staff", "kind": "sql", "mapping": "staff.yaml", "connection": {"url": url}}
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), "utf-8")
    return path


@pytest.mark.parametrize("server", ["sqlite", "postgres", "mariadb"])
def test_a_missing_column_lists_those_that_exist_nearest_first(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{server}_url")
    sources = _estate(url, tmp_path, {"id": None, "mobiel": {"identifier": "phone"}})
    result = CliRunner().invoke(
        cli, ["mappings", "check", "--sources", str(sources), "--live", "--json"]
    )
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["sources"][0]["problems"]
    assert "column 'mobiel'" in problem
    assert problem.endswith(
        "its columns, nearest first: 'mobile', " + problem.split("'mobile', ")[1]
    )
    assert "'email'" in problem and "'ext'" in problem


def test_full_numbers_declared_as_extensions_are_reported(sqlite_url: str, tmp_path: Path) -> None:
    columns = {"id": None, "email": {"identifier": "email"}, "ext": {"identifier": "extension"}}
    sources = _estate(sqlite_url, tmp_path, columns)
    result = CliRunner().invoke(
        cli, ["mappings", "check", "--sources", str(sources), "--live", "--json"]
    )
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["sources"][0]["problems"]
    assert problem.startswith(
        "staff.ext: declared 'extension', but its values are full phone numbers"
    )
    assert "+31102345201" not in problem  # examples are masked


def test_values_that_fit_pass(sqlite_url: str, tmp_path: Path) -> None:
    columns = {"id": None, "email": {"identifier": "email"}, "ext": {"identifier": "phone"}}
    sources = _estate(sqlite_url, tmp_path, columns)
    result = CliRunner().invoke(cli, ["mappings", "check", "--sources", str(sources), "--live"])
    assert result.exit_code == 0, result.output
