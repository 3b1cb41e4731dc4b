"""The console script runs one command and exits: the garbage collector waits while a
search starts, leaves what has loaded out of its traces once the search is ready, and
at the exit collects once before freezing the rest, so that the interpreter's final
collections need not trace every object of polars, pyarrow and SQLAlchemy again. Exit
codes, atexit handlers and the collector of an in-process caller are as before."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import discover.cli
from discover.cli import cli, collector

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake_gc(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The collector module's view of gc, recorded instead of changed."""
    calls: list[str] = []
    enabled = [True]

    def disable() -> None:
        calls.append("disable")
        enabled[0] = False

    def enable() -> None:
        calls.append("enable")
        enabled[0] = True

    fake = SimpleNamespace(
        isenabled=lambda: enabled[0],
        disable=disable,
        enable=enable,
        freeze=lambda: calls.append("freeze"),
        unfreeze=lambda: calls.append("unfreeze"),
        collect=lambda: calls.append("collect"),
    )
    monkeypatch.setattr(collector, "gc", fake)
    monkeypatch.setattr(collector, "_one_command", False)
    monkeypatch.setattr(collector, "_paused", False)
    return calls


def test_main_runs_the_command_then_finishes_the_collector_and_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, fake_gc: list[str]
) -> None:
    def command(prog_name: str) -> None:
        fake_gc.append(f"command {prog_name} (one command: {collector._one_command})")
        raise SystemExit(3)

    monkeypatch.setattr(discover.cli, "cli", command)
    with pytest.raises(SystemExit) as exited:
        discover.cli.main()
    assert exited.value.code == 3
    assert fake_gc == ["command discover (one command: True)", "unfreeze", "collect", "freeze"]


def test_in_the_console_script_a_starting_search_pauses_the_collector_until_ready(
    fake_gc: list[str],
) -> None:
    collector.one_command()
    collector.pause()
    collector.pause()  # paused once
    assert fake_gc == ["disable"]
    collector.settle()
    collector.settle()  # settled once
    assert fake_gc == ["disable", "enable", "freeze"]


def test_outside_the_console_script_the_collector_is_left_alone(fake_gc: list[str]) -> None:
    collector.pause()
    collector.settle()
    assert fake_gc == []


def test_a_search_run_in_process_leaves_the_callers_collector_as_it_was(tmp_path: Path) -> None:
    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(
        cli, ["search", "--sources", str(tmp_path / "none.yaml"), "--case", str(tmp_path / "c")]
    )
    assert result.exit_code == 2  # no identifier: refused after the command started
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_the_console_script_exits_with_the_objects_frozen_and_atexit_run() -> None:
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
        "from discover.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "discover" in result.stdout
    frozen = int(result.stderr.split("frozen ")[1].split()[0])
    assert frozen > 0
