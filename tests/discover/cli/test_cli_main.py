"""The console script: once its command is done, the garbage is collected and the rest
frozen, so that the interpreter's last collections need not trace every object of the
libraries a command loaded; the exit code and the atexit handlers are as before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import discover.cli

ROOT = Path(__file__).resolve().parents[3]


def test_main_collects_then_freezes_after_the_command_and_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[str] = []

    def command(prog_name: str) -> None:
        steps.append(f"command {prog_name}")
        raise SystemExit(3)

    fake_gc = SimpleNamespace(
        collect=lambda: steps.append("collect"), freeze=lambda: steps.append("freeze")
    )
    monkeypatch.setattr(discover.cli, "cli", command)
    monkeypatch.setattr(discover.cli, "gc", fake_gc)
    with pytest.raises(SystemExit) as exited:
        discover.cli.main()
    assert exited.value.code == 3
    assert steps == ["command discover", "collect", "freeze"]


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
