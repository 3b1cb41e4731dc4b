"""``discover demo`` end to end, and ``--help`` on every command and subcommand."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from discover.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):  # the root group loads its commands lazily
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(cli)


def test_the_commands_are_there() -> None:
    assert {("search",), ("demo",), ("export",), ("mappings", "check")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "discover")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_everywhere(path: tuple[str, ...], flag: str) -> None:
    result = CliRunner().invoke(cli, [*path, flag], prog_name="discover")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: discover {' '.join(path)}".rstrip() + " ")
    assert "Traceback" not in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("discover, version ")


def test_unknown_command_is_exit_2() -> None:
    result = CliRunner().invoke(cli, ["serach"])
    assert result.exit_code == 2
    assert "No such command 'serach'" in result.stderr


def test_demo_twice_in_a_row(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    for _ in range(2):
        result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = " ".join(result.stdout.split())
        assert f"case: {out / 'case'}" in text
        assert "complete: case written to" in text
    summary = json.loads((out / "case" / "summary.json").read_text(encoding="utf-8"))
    assert summary["complete"] is True
    assert summary["request_id"] == "REQ-DEMO-0001"
    assert summary["totals"]["records"] > 0
    assert (out / "sources.yaml").is_file() and (out / "request.json").is_file()
    packages = list((out / "packages").iterdir())
    assert any(p.name.startswith("REQ-DEMO-0001-access") for p in packages)
    # the demo's sources file is an ordinary one: search it again from the command line
    result = CliRunner().invoke(
        cli,
        ["search", "--sources", str(out / "sources.yaml"), "--request", str(out / "request.json"),
         "--case", str(tmp_path / "again"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["records"] == summary["totals"]["records"]


def test_demo_refuses_a_directory_that_is_not_a_demo(tmp_path: Path) -> None:
    out = tmp_path / "important"
    out.mkdir()
    (out / "thesis.txt").write_text("do not delete", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 2
    assert f"{out} exists and is not a demo directory; choose an empty --out" in " ".join(
        result.stderr.split()
    )
    assert "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["thesis.txt"]


def test_demo_into_an_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
