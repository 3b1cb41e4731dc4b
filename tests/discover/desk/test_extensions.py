"""One deadline extension per request: ``discover requests extend`` and ``discover export
--extend-deadline`` agree, on the demo data directory (its case's request is registered)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from support.processes import output_without_a_register

from discover.cli import cli
from discover.desk.store import Desk
from exporters.export import load_export_log

REQUEST = "REQ-DEMO-0001"


def run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _env(data: Path) -> dict[str, str]:
    return {"DISCOVER_DATA": str(data), "DISCOVER_REVIEWER": "anna"}


def _export(case: Path, out: Path, *extra: str, env: dict[str, str]):
    return run("export", str(case), "--allow-undecided", "--out", str(out), *extra, env=env)


def _extended(out: Path) -> dict[str, object] | None:
    package = next(out.iterdir())
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    return document["request"].get("deadline_extended")


def _register(data: Path) -> tuple[dict[str, object] | None, str, list[str]]:
    """The register's extension of the demo request, its deadline, and who extended it."""
    with Desk.open(data, use_env=False) as desk:
        record = desk.get(REQUEST)
        entries = desk.audit_entries(request_id=REQUEST)
    by = [entry.actor for entry in entries if entry.action == "extended"]
    return record.extension, record.deadline.isoformat(), by


def _one_line(output: str) -> str:
    return " ".join(output.split())


def test_the_registers_extension_goes_into_the_package(demo_data: Path, tmp_path: Path) -> None:
    env = _env(demo_data)
    extended = run(
        "requests", "extend", REQUEST, "--months", "2", "--reason", "many systems", env=env
    )
    assert extended.exit_code == 0, extended.output
    _held, deadline, _by = _register(demo_data)
    exported = _export(demo_data / "case", tmp_path / "out", env=env)
    assert exported.exit_code == 0, exported.output
    assert "the register holds an extension of 2 month(s)" in _one_line(exported.output)
    shown = _extended(tmp_path / "out")
    assert shown is not None
    assert (shown["deadline"], shown["months"], shown["reason"]) == (deadline, 2, "many systems")
    entry = load_export_log(demo_data / "case")[-1]
    assert entry["deadline_extension"] == {"months": 2, "reason": "many systems"}


def test_an_export_extension_is_recorded_in_the_register_once(
    demo_data: Path, tmp_path: Path
) -> None:
    env = _env(demo_data)
    given = ("--extend-deadline", "1", "--extension-reason", "complex")
    exported = _export(demo_data / "case", tmp_path / "a", *given, "--by", "B. de Wit", env=env)
    assert exported.exit_code == 0, exported.output
    held, deadline, extended_by = _register(demo_data)
    assert held == {"months": 1, "reason": "complex"} and extended_by == ["B. de Wit"]
    assert _extended(tmp_path / "a")["deadline"] == deadline  # type: ignore[index]
    shown = json.loads(run("requests", "show", REQUEST, "--json", env=env).output)
    assert shown["deadline"] == deadline and shown["extension"]["months"] == 1
    # the register's rule: one extension; the same one given to export again is not a second
    again = run("requests", "extend", REQUEST, "--months", "1", "--reason", "more", env=env)
    assert again.exit_code == 2 and "only once" in again.output
    repeated = _export(demo_data / "case", tmp_path / "b", *given, env=env)
    assert repeated.exit_code == 0, repeated.output
    assert _register(demo_data) == (held, deadline, ["B. de Wit"])
    assert _extended(tmp_path / "b")["deadline"] == deadline  # type: ignore[index]


def test_an_extension_other_than_the_registers_is_refused_naming_both(
    demo_data: Path, tmp_path: Path
) -> None:
    env = _env(demo_data)
    assert (
        run("requests", "extend", REQUEST, "--months", "1", "--reason", "complex", env=env)
    ).exit_code == 0
    before = _register(demo_data)
    logged = len(load_export_log(demo_data / "case"))
    for months, reason in (("2", "complex"), ("1", "many requests")):
        refused = _export(
            demo_data / "case",
            tmp_path / "out",
            "--extend-deadline",
            months,
            "--extension-reason",
            reason,
            env=env,
        )
        assert refused.exit_code == 2, refused.output
        text = _one_line(refused.output)
        assert "1 month(s) (reason: 'complex')" in text, text
        assert f"{months} month(s) (reason: '{reason}')" in text, text
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert _register(demo_data) == before
    assert len(load_export_log(demo_data / "case")) == logged


def test_the_registers_rules_refuse_an_export_extension(demo_data: Path, tmp_path: Path) -> None:
    env = _env(demo_data)
    assert run("requests", "close", REQUEST, env=env).exit_code == 0
    refused = _export(
        demo_data / "case",
        tmp_path / "out",
        "--extend-deadline",
        "1",
        "--extension-reason",
        "complex",
        env=env,
    )
    assert refused.exit_code == 2
    assert f"request {REQUEST} is closed" in _one_line(refused.output)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert _register(demo_data)[0] is None


def test_a_request_the_register_does_not_hold_exports_as_before(
    demo_data: Path, tmp_path: Path
) -> None:
    case = tmp_path / "case"
    shutil.copytree(demo_data / "case", case)
    given = ("--extend-deadline", "2", "--extension-reason", "complex")
    # no register at all: nothing is created
    nowhere = tmp_path / "nowhere"
    exported = _export(case, tmp_path / "a", *given, env=_env(nowhere))
    assert exported.exit_code == 0, exported.output
    assert _extended(tmp_path / "a")["months"] == 2  # type: ignore[index]
    assert not nowhere.exists()
    # a register that holds other requests only: it is left as it was
    other = tmp_path / "other"
    added = run(
        "requests",
        "add",
        "--data",
        str(other),
        "--id",
        "REQ-OTHER",
        "--kind",
        "access",
        "--received",
        "2026-11-20",
        "--email",
        "someone@example.nl",
        env={},
    )
    assert added.exit_code == 0, added.output
    exported = _export(case, tmp_path / "b", *given, env=_env(other))
    assert exported.exit_code == 0, exported.output
    assert _extended(tmp_path / "b")["reason"] == "complex"  # type: ignore[index]
    with Desk.open(other, use_env=False) as desk:
        assert [r.request_id for r in desk.listing()] == ["REQ-OTHER"]
        assert desk.get("REQ-OTHER").extension is None


def test_without_a_register_nothing_is_loaded_for_it(tmp_path: Path) -> None:
    program = (
        "import sys; from pathlib import Path\n"
        "from discover.desk.extensions import agreed_extension\n"
        "given = {'months': 1, 'reason': 'r'}\n"
        "assert agreed_extension(Path('case'), given, actor='a').extension == given\n"
        "print('discover.desk.store' in sys.modules, 'sqlalchemy' in sys.modules)"
    )
    assert output_without_a_register(program, tmp_path).split() == ["False", "False"]


def test_an_extension_recorded_before_a_refused_export_stands(
    demo_data: Path, tmp_path: Path
) -> None:
    """The register takes the extension first; a refused export (undecided matches)
    leaves it recorded, and exporting again with it is not a second extension."""
    env = _env(demo_data)
    given = ("--extend-deadline", "2", "--extension-reason", "complex")
    refused = run("export", str(demo_data / "case"), "--out", str(tmp_path / "a"), *given, env=env)
    assert refused.exit_code == 2 and "await a decision" in _one_line(refused.output)
    held, deadline, by = _register(demo_data)
    assert held == {"months": 2, "reason": "complex"} and by == ["anna"]
    again = _export(demo_data / "case", tmp_path / "b", *given, env=env)
    assert again.exit_code == 0, again.output
    assert _register(demo_data) == (held, deadline, by)
