"""Search, review and export on the command line record themselves in the register."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from support.processes import output_without_a_register

from discover.cli import cli
from discover.desk.store import Desk


def run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_search_review_export_are_recorded_against_a_registered_request(
    demo_data: Path, tmp_path: Path
) -> None:
    env = {"DISCOVER_DATA": str(demo_data), "DISCOVER_REVIEWER": "anna"}
    added = run(
        "requests",
        "add",
        "--id",
        "REQ-H1",
        "--kind",
        "access",
        "--received",
        "2026-11-30",
        "--email",
        "jan.devries@acme-logistiek.nl",
        "--name",
        "Jan de Vries",
        env=env,
    )
    assert added.exit_code == 0, added.output
    case = tmp_path / "case"
    searched = run(
        "search",
        "--sources",
        str(demo_data / "sources.yaml"),
        "--request-id",
        "REQ-H1",
        "--email",
        "jan.devries@acme-logistiek.nl",
        "--name",
        "Jan de Vries",
        "--case",
        str(case),
        "--json",
        env=env,
    )
    assert searched.exit_code in (0, 1), searched.output
    listing = json.loads(run("review", str(case), "--json", "--all", env=env).output)
    possible = [r for r in listing["records"] if r["match"] == "possible"]
    if possible:
        reviewed = run(
            "review",
            str(case),
            "--confirm",
            str(possible[0]["index"]),
            "--reason",
            "same person",
            env=env,
        )
        assert reviewed.exit_code == 0, reviewed.output
    # the other namesakes stay undecided: export leaves them out, as the log records
    exported = run(
        "export", str(case), "--allow-undecided", "--out", str(tmp_path / "pkg"), env=env
    )
    assert exported.exit_code in (0, 1), exported.output
    with Desk.open(demo_data) as desk:
        record = desk.get("REQ-H1")
        actions = [e.action for e in desk.audit_entries(request_id="REQ-H1")]
        links = {link.kind for link in desk.links("REQ-H1")}
    assert record.status == "exported"
    expected = (
        ["exported", "reviewed", "searched", "registered"]
        if possible
        else ["exported", "searched", "registered"]
    )
    assert actions == expected
    assert links == {"case", "package"}


def test_nothing_is_recorded_without_a_register(tmp_path: Path, demo_data: Path) -> None:
    env = {"DISCOVER_DATA": str(tmp_path / "nowhere")}
    case = tmp_path / "case"
    result = run(
        "search",
        "--sources",
        str(demo_data / "sources.yaml"),
        "--email",
        "jan.devries@acme-logistiek.nl",
        "--case",
        str(case),
        "--json",
        env=env,
    )
    assert result.exit_code in (0, 1)
    assert not (tmp_path / "nowhere").exists()


def test_without_a_register_nothing_is_loaded_for_it(tmp_path: Path) -> None:
    """Every search asks; with no register set up the answer costs no import."""
    program = (
        "import sys; from pathlib import Path; from discover.desk import hooks\n"
        "assert hooks.searched('REQ-1', Path('.'), {}) is False\n"
        "print('discover.desk.store' in sys.modules, 'sqlalchemy' in sys.modules)"
    )
    assert output_without_a_register(program, tmp_path).split() == ["False", "False"]
