"""``discover requests``: the register on the command line, on a demo data directory."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from discover.cli import cli
from discover.cli.requests import KIND_CHOICES, METHOD_CHOICES
from discover.deadlines import add_months
from discover.desk.schema import KINDS, VERIFICATION_METHODS


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_choices_are_the_registers() -> None:
    assert KIND_CHOICES == KINDS and METHOD_CHOICES == VERIFICATION_METHODS


def test_demo_leaves_a_data_directory_with_the_demo_request(demo_data: Path) -> None:
    listed = json.loads(run("requests", "list", "--data", str(demo_data), "--json").output)
    assert [(r["request_id"], r["status"]) for r in listed] == [("REQ-DEMO-0001", "exported")]
    shown = json.loads(
        run("requests", "show", "REQ-DEMO-0001", "--data", str(demo_data), "--json").output
    )
    assert {link["kind"] for link in shown["links"]} == {"case", "package"}
    assert shown["identifiers"][0]["type"] == "email"


def test_add_extend_verify_close_and_list(demo_data: Path) -> None:
    data = str(demo_data)
    added = run(
        "requests",
        "add",
        "--data",
        data,
        "--id",
        "REQ-7",
        "--kind",
        "portability",
        "--received",
        "2026-11-20",
        "--email",
        "jan@example.nl",
        "--phone",
        "06-12345678",
    )
    assert added.exit_code == 0, added.output
    first = json.loads(run("requests", "show", "REQ-7", "--data", data, "--json").output)
    assert first["deadline"] == "2026-12-20"
    extended = run(
        "requests",
        "extend",
        "REQ-7",
        "--data",
        data,
        "--months",
        "2",
        "--reason",
        "complex",
    )
    assert extended.exit_code == 0, extended.output
    shown = json.loads(run("requests", "show", "REQ-7", "--data", data, "--json").output)
    assert date.fromisoformat(shown["deadline"]) == add_months(date(2026, 12, 20), 2)
    assert shown["extension"]["months"] == 2
    assert (
        run(
            "requests", "verify", "REQ-7", "--data", data, "--method", "id-document", "--by", "anna"
        ).exit_code
        == 0
    )
    due = json.loads(
        run("requests", "list", "--data", data, "--due-within", "365", "--json").output
    )
    by_id = {r["request_id"]: r for r in due}
    assert by_id["REQ-7"]["status"] == "verified"
    assert set(by_id["REQ-7"]) >= {"request_id", "status", "deadline"}
    assert run("requests", "close", "REQ-7", "--data", data).exit_code == 0
    due = json.loads(
        run("requests", "list", "--data", data, "--due-within", "365", "--json").output
    )
    assert "REQ-7" not in {r["request_id"] for r in due}
    assert run("audit", "verify", "--data", data).exit_code == 0


def test_data_directory_comes_from_the_environment(demo_data: Path) -> None:
    result = run("requests", "list", "--json", env={"DISCOVER_DATA": str(demo_data)})
    assert json.loads(result.output)[0]["request_id"] == "REQ-DEMO-0001"


def test_bad_input_exits_2_naming_the_place(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    bad = run(
        "requests",
        "add",
        "--data",
        data,
        "--id",
        "R-1",
        "--kind",
        "access",
        "--received",
        "2026-01-05",
        "--imei",
        "352099001761480",
    )
    assert bad.exit_code == 2 and "--imei" in bad.output and "check digit" in bad.output
    bad = run(
        "requests",
        "add",
        "--data",
        data,
        "--id",
        "R-1",
        "--kind",
        "access",
        "--received",
        "yesterday",
        "--email",
        "a@b.nl",
    )
    assert bad.exit_code == 2 and "not a date" in bad.output
    twice = [
        "requests",
        "add",
        "--data",
        data,
        "--id",
        "R-2",
        "--kind",
        "erasure",
        "--received",
        "2026-01-05",
        "--email",
        "a@b.nl",
    ]
    assert run(*twice).exit_code == 0
    again = run(*twice)
    assert again.exit_code == 2 and "already registered" in again.output
    missing = run("requests", "extend", "R-404", "--data", data, "--months", "1", "--reason", "x")
    assert missing.exit_code == 2 and "not registered" in missing.output


def test_audit_verify_fails_naming_the_edited_entry(demo_data: Path) -> None:
    data = str(demo_data)
    assert run("audit", "verify", "--data", data).exit_code == 0
    with sqlite3.connect(demo_data / "desk.sqlite") as connection:
        connection.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    result = run("audit", "verify", "--data", data)
    assert result.exit_code == 1
    assert "audit entry 2 (searched" in result.output


def test_users_add_reads_the_password_from_the_environment(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    missing = run(
        "users", "add", "anna", "--role", "officer", "--password-env", "NOPE_X", "--data", data
    )
    assert missing.exit_code == 2 and "NOPE_X" in missing.output
    ok = run(
        "users",
        "add",
        "anna",
        "--role",
        "officer",
        "--password-env",
        "PW",
        "--data",
        data,
        env={"PW": "a long enough secret"},
    )
    assert ok.exit_code == 0
    assert "a long enough secret" not in (tmp_path / "d" / "desk.sqlite").read_bytes().decode(
        "latin-1"
    )
    assert run("users", "list", "--data", data).output.split() == ["anna", "officer"]


def test_a_shared_register_on_postgresql_through_db(postgres_url: str, tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    common = ["--data", data, "--db", postgres_url]
    added = run(
        "requests",
        "add",
        *common,
        "--id",
        "REQ-PG",
        "--kind",
        "access",
        "--received",
        "2026-11-30",
        "--email",
        "jan@example.nl",
    )
    assert added.exit_code == 0, added.output
    extended = run("requests", "extend", "REQ-PG", *common, "--months", "2", "--reason", "x")
    assert extended.exit_code == 0, extended.output
    shown = json.loads(run("requests", "show", "REQ-PG", *common, "--json").output)
    assert (shown["first_deadline"], shown["deadline"]) == ("2026-12-30", "2027-02-28")
    assert not (tmp_path / "d" / "desk.sqlite").exists()  # nothing went to SQLite
    env_listed = run("requests", "list", "--json", env={"DISCOVER_DESK_DB": postgres_url})
    assert [r["request_id"] for r in json.loads(env_listed.output)] == ["REQ-PG"]
    assert run("audit", "verify", *common).exit_code == 0
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET at = '2020-01-01' WHERE seq = 1"))
    engine.dispose()
    broken = run("audit", "verify", *common)
    assert broken.exit_code == 1 and "audit entry 1 (registered" in broken.output


def test_reading_a_missing_register_is_bad_input(tmp_path: Path) -> None:
    for args in (["requests", "list"], ["audit", "verify"], ["users", "list"]):
        result = run(*args, "--data", str(tmp_path / "typo"))
        assert result.exit_code == 2 and "desk.sqlite is missing" in result.output, args


def test_running_the_demo_again_keeps_the_register(demo_data: Path) -> None:
    data = str(demo_data)
    added = run(
        "users",
        "add",
        "anna",
        "--role",
        "viewer",
        "--password-env",
        "PW",
        "--data",
        data,
        env={"PW": "a long enough secret"},
    )
    assert added.exit_code == 0
    assert run("demo", "--out", data).exit_code == 0
    assert run("users", "list", "--data", data).output.split() == ["anna", "viewer"]
    listed = json.loads(run("requests", "list", "--data", data, "--json").output)
    assert [r["request_id"] for r in listed] == ["REQ-DEMO-0001"]
    assert run("audit", "verify", "--data", data).exit_code == 0


def test_data_may_be_given_to_the_group_too(demo_data: Path) -> None:
    data = str(demo_data)
    listed = json.loads(run("requests", "--data", data, "list", "--json").output)
    assert [r["request_id"] for r in listed] == ["REQ-DEMO-0001"]
    assert "audit log intact" in run("audit", "--data", data, "verify").output
