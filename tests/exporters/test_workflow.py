"""`discover export` as a privacy officer's workflow: undecided matches, who exported,
the client's instruction, an extended deadline, categories missing from the statement."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from support.resealed import reseal

from discover.case import read_case
from discover.cli import cli
from discover.deadlines import add_months, first_deadline
from exporters.export import load_export_log


def _export(case: Path, out: Path, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    args = ["export", str(case), "--format", "json", "--out", str(out), *extra]
    return CliRunner().invoke(cli, args, env=env or {})


def test_undecided_matches_are_refused_with_the_review_command(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    logged = len(load_export_log(case))
    result = _export(case, tmp_path / "out")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "possible match(es) await a decision" in text
    assert f"discover review {case}" in text
    pending = read_case(case).summary["totals"]["needs_review"]
    assert f"{pending} possible" in text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert len(load_export_log(case)) == logged


def test_allow_undecided_and_the_exporter_are_logged(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    result = _export(
        case, tmp_path / "a", "--allow-undecided", env={"DISCOVER_REVIEWER": "A. Jansen"}
    )
    assert result.exit_code == 0, result.output
    entry = load_export_log(case)[-1]
    assert entry["allow_undecided"] is True and entry["exported_by"] == "A. Jansen"
    assert entry["pending_review"] > 0
    result = _export(case, tmp_path / "b", "--allow-undecided", "--by", "B. de Wit")
    assert result.exit_code == 0, result.output
    assert load_export_log(case)[-1]["exported_by"] == "B. de Wit"
    result = _export(case, tmp_path / "c", "--allow-undecided", env={"DISCOVER_REVIEWER": ""})
    assert result.exit_code == 0, result.output
    assert load_export_log(case)[-1]["exported_by"]  # the OS user


def test_client_data_needs_the_clients_instruction(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    for controller in ("client", "all"):
        refused = _export(case, tmp_path / "x", "--allow-undecided", "--controller", controller)
        assert refused.exit_code == 2 and "--client-instruction" in refused.output
    result = _export(
        case,
        tmp_path / "out",
        "--allow-undecided",
        "--controller",
        "all",
        "--client-instruction",
        "ACME-2026-17",
    )
    assert result.exit_code == 0, result.output
    assert load_export_log(case)[-1]["client_instruction"] == "ACME-2026-17"


def test_the_deadline_extension_is_shown_in_the_package(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    base = ("--allow-undecided",)
    too_long = _export(
        case, tmp_path / "x", *base, "--extend-deadline", "3", "--extension-reason", "r"
    )
    assert too_long.exit_code == 2
    no_reason = _export(case, tmp_path / "y", *base, "--extend-deadline", "2")
    assert no_reason.exit_code == 2 and "--extension-reason" in no_reason.output
    reason = "Uw verzoek betreft veel systemen van verschillende opdrachtgevers."
    result = _export(
        case, tmp_path / "out", *base, "--extend-deadline", "2", "--extension-reason", reason
    )
    assert result.exit_code == 0, result.output
    package = next((tmp_path / "out").iterdir())
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    received = date.fromisoformat(document["request"]["received"])
    extended = add_months(first_deadline(received), 2)
    assert document["request"]["deadline_extended"]["deadline"] == extended.isoformat()
    assert reason in document["request"]["deadline_extended"]["text"]
    assert "art. 12 lid 3 AVG" in document["request"]["deadline_extended"]["text"]
    assert extended.isoformat() in (package / "letter.html").read_text(encoding="utf-8")
    assert load_export_log(case)[-1]["deadline_extension"] == {"months": 2, "reason": reason}


def test_an_extended_deadline_is_the_registers_at_a_months_end(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    """Received 30 December: due 30 January, extended by two months to 30 March (the
    register's count), not to 28 March (one month at a time, clamped in February)."""
    case = fresh_case(demo_case)
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    request["received"] = "2026-12-30"
    (case / "request.json").write_text(json.dumps(request), encoding="utf-8")
    reseal(case)
    result = _export(
        case,
        tmp_path / "out",
        "--allow-undecided",
        "--extend-deadline",
        "2",
        "--extension-reason",
        "many systems",
    )
    assert result.exit_code == 0, result.output
    package = next((tmp_path / "out").iterdir())
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    assert document["request"]["deadline"] == "2027-01-30"
    assert document["request"]["deadline_extended"]["deadline"] == "2027-03-30"
    assert add_months(first_deadline(date(2026, 12, 30)), 2) == date(2027, 3, 30)


def test_console_and_cover_flag_a_category_missing_from_the_statement(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    result = _export(
        case,
        tmp_path / "out",
        "--allow-undecided",
        "--controller",
        "all",
        "--client-instruction",
        "ACME-2026-17",
    )
    assert result.exit_code == 0, result.output
    assert "managed_it.directory" in result.output
    assert "privacy statement does not mention" in " ".join(result.output.split())
    package = next((tmp_path / "out").iterdir())
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    assert [n["category"] for n in document["statement_notices"]] == ["managed_it.directory"]
