"""Fast start: help and argument errors load no heavy library, and the overview of
commands says what each command's own help says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from discover.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("polars", "sqlalchemy", "pyarrow", "openpyxl", "xlsxwriter", "ldap3")

PROBE = (
    "import json, sys\n"
    "from discover.cli import cli\n"
    "try:\n"
    "    cli.main(args=sys.argv[1:], prog_name='discover')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    f"heavy = {HEAVY!r}\n"
    "print(json.dumps({'code': code, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
)


def _run(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["scan", "--help"], 0),
        (["scan"], 2),  # --sources is missing
        (["scan", "--sources", "x.yaml", "--sample", "0"], 2),
        (["mappings", "--help"], 0),
        (["mappings", "check", "--help"], 0),
        (["mappings", "scaffold", "--help"], 0),
        (["mappings", "scaffold", "--kind", "nosql", "--out", "x.yaml"], 2),
        (["no-such-command"], 2),
    ],
)
def test_help_and_argument_errors_load_no_heavy_library(args: list[str], code: int) -> None:
    outcome = _run(*args)
    assert outcome["code"] == code
    assert outcome["loaded"] == []


def test_the_overview_matches_each_commands_own_help() -> None:
    ctx = click.Context(cli)
    assert set(cli.list_commands(ctx)) == set(COMMANDS)
    for name, (_module, _attribute, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=300) == short, name
