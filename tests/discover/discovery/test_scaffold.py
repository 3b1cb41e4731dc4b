"""``discover mappings scaffold``: a first mapping that validates, passes the live check,
and finds what a hand-written one finds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result

from discover.cli import cli
from discover.demo.databases import build_crm
from discover.demo.estate import build_estate
from discover.demo.people import JAN
from discover.engine import search
from discover.request import build_request
from discover.sources import load_sources


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["mappings", *args])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_estate(tmp_path_factory.mktemp("demo")).root


def _sources(folder: Path, name: str, kind: str, mapping: str, connection: dict) -> Path:
    path = folder / f"{name}.sources.yaml"
    source = {"name": name, "kind": kind, "mapping": mapping, "connection": connection}
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), "utf-8")
    return path


def _records(sources: Path, *identifiers: tuple[str, str]) -> set[tuple[str, str, str]]:
    result = search(build_request(list(identifiers)), load_sources(sources))
    assert not result.failed_sources
    return {(h["location"], h["record_key"], h["match"]) for h in result.hits.to_pylist()}


def _scaffold_and_check(out: Path, sources: Path, *args: str) -> str:
    result = invoke("scaffold", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "TODO" in result.stdout
    checked = invoke("check", "--sources", str(sources), "--live")
    assert checked.exit_code == 0, checked.output
    return out.read_text("utf-8")


@pytest.mark.parametrize("server", ["sqlite", "postgres", "mariadb"])
def test_a_scaffolded_crm_finds_what_the_hand_written_one_finds(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{server}_url")
    engine = sa.create_engine(url)
    try:
        build_crm(engine)
    finally:
        engine.dispose()
    out = tmp_path / "crm.yaml"
    scaffolded = _sources(tmp_path, "crm", "sql", "crm.yaml", {"url": url})
    text = _scaffold_and_check(out, scaffolded, "--kind", "sql", "--url", url)
    assert "pppoe_password: {secret: true}" in text
    assert "entity: organisation" in text
    assert "{from: support_tickets.contact_id, to: contacts.id, follow: backward}" in text
    shipped = _sources(tmp_path, "crm", "sql", "shipped:demo/crm.yaml", {"url": url})
    for subject in ([("email", JAN.email), ("name", "Jan de Vries")], [("phone", JAN.mobile)]):
        by_hand = _records(shipped, *subject)
        assert by_hand
        assert _records(scaffolded, *subject) == by_hand


def test_a_scaffolded_spreadsheet_mapping(demo: Path, tmp_path: Path) -> None:
    csv = demo / "estate" / "mobile" / "roaming-notifications.csv"
    out = tmp_path / "roaming.yaml"
    sources = _sources(tmp_path, "roaming", "tabular", "roaming.yaml", {"path": str(csv)})
    text = _scaffold_and_check(out, sources, "--kind", "tabular", "--path", str(csv))
    assert "msisdn: {identifier: phone}" in text
    assert "imei: {identifier: imei}" in text
    shipped = _sources(
        tmp_path,
        "roaming",
        "tabular",
        "shipped:mobile/roaming-notifications.yaml",
        {"path": str(csv)},
    )
    by_hand = {key for _, key, _ in _records(shipped, ("phone", JAN.mobile))}
    assert by_hand
    assert {key for _, key, _ in _records(sources, ("phone", JAN.mobile))} >= by_hand


def test_a_scaffolded_directory_mapping_from_a_sources_file(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "bakkerij.yaml"
    sources = _sources(
        tmp_path,
        "bakkerij",
        "ldif",
        "bakkerij.yaml",
        {"path": str(demo / "estate" / "bakkerij-ldap.ldif")},
    )
    text = _scaffold_and_check(
        out, sources, "--kind", "ldif", "--sources", str(sources), "--source", "bakkerij"
    )
    assert "mail: {identifier: email}" in text
    assert "userPassword" not in text or "userpassword: {secret: true}" in text
    found = _records(sources, ("email", "jan@bakkerijdevries.nl"))
    assert any(location.startswith("bakkerij-ldap.ldif") for location, _, _ in found)


def test_a_scaffolded_provisioning_mapping_extends_the_shipped_one(
    demo: Path, tmp_path: Path
) -> None:
    directory = demo / "estate" / "provisioning"
    out = tmp_path / "prov.yaml"
    sources = _sources(tmp_path, "prov", "voip", "prov.yaml", {"directory": str(directory)})
    text = _scaffold_and_check(out, sources, "--kind", "voip", "--path", str(directory))
    assert "extends: shipped:voip/provisioning.yaml" in text
    assert _records(sources, ("mac", JAN.mac))


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    (tmp_path / "exists.yaml").write_text("x", "utf-8")
    for args in (
        ["--kind", "sql", "--url", "sqlite://", "--out", str(tmp_path / "exists.yaml")],
        ["--kind", "sql", "--path", "x", "--out", str(tmp_path / "a.yaml")],
        ["--kind", "sql", "--out", str(tmp_path / "a.yaml")],
        ["--kind", "nosql", "--url", "x", "--out", str(tmp_path / "a.yaml")],
    ):
        result = invoke("scaffold", *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "a.yaml").exists()


def test_an_unreachable_source_is_named(tmp_path: Path) -> None:
    result = invoke(
        "scaffold",
        "--kind",
        "sql",
        "--url",
        f"sqlite:///{tmp_path}/no.sqlite",
        "--out",
        str(tmp_path / "no.yaml"),
    )
    assert result.exit_code == 1
    assert "no.sqlite" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "no.yaml").exists()


def test_links_between_tables_of_people_are_left_to_review(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hr.sqlite'}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TABLE employees (id INTEGER PRIMARY KEY, email TEXT, boss_id INTEGER)"
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT, employee_id INTEGER)"
                )
            )
            connection.execute(sa.text("INSERT INTO employees VALUES (1, 'a@example.nl', NULL)"))
            connection.execute(sa.text("INSERT INTO users VALUES (1, 'a@example.nl', 1)"))
    finally:
        engine.dispose()
    out = tmp_path / "hr.yaml"
    result = invoke("scaffold", "--kind", "sql", "--url", url, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    assert "relations:" not in text
    assert "# TODO: users.employee_id -> employees.id links two tables of people" in text


def test_a_new_source_is_scanned_before_its_mapping_exists(demo: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{demo / 'estate' / 'crm.sqlite'}"
    sources = _sources(tmp_path, "crm", "sql", "not-yet.yaml", {"url": url})
    result = CliRunner().invoke(cli, ["scan", "--sources", str(sources), "--json"])
    assert result.exit_code == 1, result.output
    (crm,) = json.loads(result.stdout)["sources"]
    assert crm["error"] is None and crm["personal"] > 5
    assert crm["coverage"] == 0.0
