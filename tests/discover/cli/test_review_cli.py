"""`discover review`: listing, --confirm/--exclude with --reason/--by, interactive mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.synthetic_case import write_synthetic_case

from discover.cli import cli
from discover.review import load_decisions


@pytest.fixture
def case(tmp_path: Path) -> Path:
    path = tmp_path / "case"
    write_synthetic_case(path, 1500)
    return path


def _listing(case: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["review", str(case), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_listing_shows_what_needs_a_decision(case: Path) -> None:
    listing = _listing(case)
    assert listing["totals"]["needs_decision"] > 0 and listing["totals"]["overdue"] > 0
    assert all(r["needs_decision"] or r["overdue"] for r in listing["records"])
    assert len(_listing(case, "--all")["records"]) == listing["totals"]["records"]
    text = CliRunner().invoke(cli, ["review", str(case)], env={"COLUMNS": "200"}).output
    assert "needs decision" in text and "past their retention period" in text


def test_confirm_and_exclude(case: Path) -> None:
    listing = _listing(case)
    possible = [r for r in listing["records"] if r["needs_decision"]]
    first, second = possible[0], possible[1]
    result = CliRunner().invoke(
        cli,
        [
            "review",
            str(case),
            "--confirm",
            str(first["index"]),
            "--exclude",
            second["ref"],
            "--reason",
            "checked with the client",
            "--by",
            "A. Jansen",
        ],
    )
    assert result.exit_code == 0, result.output
    decisions = {(d.source, d.location, d.record_key): d for d in load_decisions(case)}
    assert decisions[(first["source"], first["location"], first["record_key"])].action == "confirm"
    made = decisions[(second["source"], second["location"], second["record_key"])]
    assert (made.action, made.reason, made.decided_by) == (
        "exclude",
        "checked with the client",
        "A. Jansen",
    )
    assert _listing(case)["totals"]["needs_decision"] == listing["totals"]["needs_decision"] - 2


def test_bad_input_exits_2(case: Path) -> None:
    runner = CliRunner()
    no_reason = runner.invoke(cli, ["review", str(case), "--confirm", "1", "--by", "A"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    no_reviewer = runner.invoke(
        cli, ["review", str(case), "--confirm", "1", "--reason", "x"], env={"DISCOVER_REVIEWER": ""}
    )
    assert no_reviewer.exit_code == 2 and "--by" in no_reviewer.output
    unknown = runner.invoke(
        cli, ["review", str(case), "--exclude", "nope/x/y", "--reason", "x", "--by", "A"]
    )
    assert unknown.exit_code == 2 and "not a listing number" in unknown.output
    missing = runner.invoke(cli, ["review", str(case.parent / "nothing")])
    assert missing.exit_code == 2
    assert load_decisions(case) == []


def test_interactive_mode_records_as_it_goes(case: Path) -> None:
    open_count = _listing(case)["totals"]["needs_decision"]
    answers = "c\nsame mobile number\ne\nnamesake\ns\nq\n"
    result = CliRunner().invoke(
        cli, ["review", str(case), "-i"], input=answers, env={"DISCOVER_REVIEWER": "B. de Boer"}
    )
    assert result.exit_code == 0, result.output
    decisions = load_decisions(case)
    assert sorted(d.action for d in decisions) == ["confirm", "exclude"]
    assert {d.decided_by for d in decisions} == {"B. de Boer"}
    assert _listing(case)["totals"]["needs_decision"] == open_count - 2


def test_a_repeated_decision_counts_once_and_a_contradiction_is_refused(case: Path) -> None:
    first = next(r for r in _listing(case)["records"] if r["needs_decision"])
    runner = CliRunner()
    base = ["review", str(case), "--reason", "same mobile", "--by", "A"]
    repeated = runner.invoke(
        cli, [*base, "--confirm", str(first["index"]), "--confirm", first["ref"]]
    )
    assert repeated.exit_code == 0, repeated.output
    assert [d.action for d in load_decisions(case)] == ["confirm"]
    from discover.review import load_history

    assert len(load_history(case)) == 1  # recorded once, not twice
    both = runner.invoke(cli, [*base, "--confirm", "1", "--exclude", "1"])
    assert both.exit_code == 2 and "both confirmed and excluded" in both.output
    for wrong in ("#1", "\uff11", "1e0"):
        refused = runner.invoke(cli, [*base, "--confirm", wrong])
        assert refused.exit_code == 2, wrong
        assert "not a listing number" in refused.output, wrong
    assert len(load_history(case)) == 1
