"""``discover mappings check``: offline validation and the live check against PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result

from discover.cli import cli
from discover.config import shipped_path

MAPPING = {
    "version": 1,
    "kind": "sql",
    "tables": {
        "contacts": {
            "key": "id",
            "category": "general.contact",
            "columns": {
                "id": {},
                "email": {"identifier": "email"},
                "mobiel": {"identifier": "phone"},  # misspelt: the column is "mobile"
            },
        },
        "tickets": {  # does not exist in the database
            "key": "id",
            "category": "general.support",
            "entity": "event",
            "columns": {"id": {}, "contact_id": {}, "body": {}},
        },
    },
    "relations": [{"from": "tickets.contact_id", "to": "contacts.id", "follow": "backward"}],
}


def write(folder: Path, name: str, document: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def sources_file(folder: Path, url: str = "${CRM_URL}", mapping: str = "crm.yaml") -> Path:
    source = {"name": "crm", "kind": "sql", "mapping": mapping, "connection": {"url": url}}
    return write(folder, "sources.yaml", {"version": 1, "sources": [source]})


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["mappings", "check", *args], env=env)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_offline_check_of_a_good_mapping(tmp_path: Path) -> None:
    write(tmp_path, "crm.yaml", MAPPING)
    result = invoke("--sources", str(sources_file(tmp_path)), env={"CRM_URL": "sqlite:///x"})
    assert result.exit_code == 0, result.output
    assert f"crm (sql, {tmp_path / 'crm.yaml'}): ok" in flat(result.stdout)
    assert "offline check (use --live to connect)" in result.stdout


def test_offline_check_reports_every_malformed_mapping(tmp_path: Path) -> None:
    bad = yaml.safe_load(yaml.safe_dump(MAPPING))
    bad["tables"]["contacts"]["columns"]["mobiel"]["identifier"] = "fone"
    write(tmp_path, "crm.yaml", bad)
    worse = yaml.safe_load(yaml.safe_dump(MAPPING))
    worse["tables"]["contacts"]["category"] = "general.contacts"
    write(tmp_path, "other.yaml", worse)
    sources = tmp_path / "sources.yaml"
    document = {
        "version": 1,
        "sources": [
            {"name": "crm", "kind": "sql", "mapping": "crm.yaml", "connection": {"url": "x"}},
            {"name": "other", "kind": "sql", "mapping": "other.yaml", "connection": {"url": "x"}},
            {
                "name": "good",
                "kind": "sql",
                "mapping": str(shipped_path("demo", "crm.yaml")),
                "connection": {"url": "x"},
            },
        ],
    }
    sources.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = invoke("--sources", str(sources))
    assert result.exit_code == 2
    out = flat(result.stdout)
    assert "crm.yaml: tables.contacts.columns.mobiel.identifier: 'fone' is not one of" in out
    assert (
        "other.yaml: tables.contacts.category: 'general.contacts' is not a register category" in out
    )
    assert "good (sql, " in out and ": ok" in out
    assert "Traceback" not in result.output

    result = invoke("--sources", str(sources), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [bool(entry["error"]) for entry in report["sources"]] == [True, True, False]


def test_check_mapping_files_directly(tmp_path: Path) -> None:
    good = shipped_path("examples", "fides-sample.yaml")
    result = invoke(str(good))
    assert result.exit_code == 0, result.output
    assert f"{good}: ok" in flat(result.stdout)
    broken = write(tmp_path, "broken.yaml", {**MAPPING, "version": 2})
    result = invoke(str(good), str(broken))
    assert result.exit_code == 2
    assert "broken.yaml: version: expected 1 (mapping format v1), got 2" in flat(result.stdout)


def test_malformed_sources_file_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "crm.yaml", MAPPING)
    result = invoke("--sources", str(sources_file(tmp_path)), env={"CRM_URL": None})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert "environment variable CRM_URL is not set" in flat(result.stderr)


def test_usage_errors(tmp_path: Path) -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "give --sources FILE or one or more MAPPING files" in result.stderr
    result = invoke("--live", str(shipped_path("demo", "crm.yaml")))
    assert result.exit_code == 2
    assert "--live needs --sources FILE" in result.stderr


def test_live_check_names_misspelt_column_and_missing_table(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE contacts (id integer primary key, email text, mobile text)"
            )
    finally:
        engine.dispose()
    write(tmp_path, "crm.yaml", MAPPING)
    sources = sources_file(tmp_path)

    offline = invoke("--sources", str(sources), env={"CRM_URL": postgres_url})
    assert offline.exit_code == 0, offline.output  # the mapping itself is well-formed

    result = invoke("--sources", str(sources), "--live", env={"CRM_URL": postgres_url})
    assert result.exit_code == 1, result.output
    out = flat(result.stdout)
    assert "crm (sql, " in out and ": problems" in out
    assert "column 'mobiel' (tables.contacts.columns.mobiel) does not exist in 'contacts'" in out
    assert "table 'tickets' (tables.tickets) does not exist" in out
    assert "column 'email'" not in out
    assert "live check" in out

    result = invoke("--sources", str(sources), "--live", "--json", env={"CRM_URL": postgres_url})
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)["sources"]
    assert len(entry["problems"]) == 2


def test_live_check_of_a_good_mapping(postgres_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE contacts (id int, email text, mobiel text)")
            connection.exec_driver_sql("CREATE TABLE tickets (id int, contact_id int, body text)")
    finally:
        engine.dispose()
    write(tmp_path, "crm.yaml", MAPPING)
    result = invoke(
        "--sources", str(sources_file(tmp_path)), "--live", env={"CRM_URL": postgres_url}
    )
    assert result.exit_code == 0, result.output
    assert ": ok" in result.stdout


def test_live_check_cannot_connect(tmp_path: Path) -> None:
    write(tmp_path, "crm.yaml", MAPPING)
    sources = sources_file(tmp_path, url="postgresql://discover@127.0.0.1:1/crm")
    result = invoke("--sources", str(sources), "--live")
    assert result.exit_code == 1
    assert "cannot connect: OperationalError" in flat(result.stdout)
    assert "Traceback" not in result.output


def test_shipped_demo_mappings_check_offline() -> None:
    for name in ("crm.yaml", "telephony.yaml"):
        result = invoke(str(shipped_path("demo", name)))
        assert result.exit_code == 0, result.output
