"""A search ends without the interpreter's teardown, and nothing is lost by it.

Once the case is written the console script flushes the standard streams, runs the
atexit handlers and leaves with ``os._exit``: the interpreter is not finalized, while
the exit code, the whole summary on stdout, the log's
last lines and an embedding program's atexit handlers are as before. A command that
did not say its outputs are closed, or a process with another thread still working,
ends the normal way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from discover.cli import ending

ROOT = Path(__file__).resolve().parents[3]

#: what the interpreter's finalization runs first (threading's shutdown: the callbacks
#: of ``threading._register_atexit``, where concurrent.futures joins its workers), and
#: an atexit handler: each writes its marker to stderr
_PROBE = (
    "import atexit, sys, threading\n"
    "threading._register_atexit(lambda: sys.stderr.write('TEARDOWN\\n'))\n"
    "atexit.register(lambda: sys.stderr.write('ATEXIT\\n'))\n"
    "from discover.cli import main\n"
    "main()\n"
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
        check=False,
    )


def test_a_search_leaves_without_teardown_and_keeps_code_output_and_atexit(
    demo: Path, tmp_path: Path
) -> None:
    case = tmp_path / "case"
    result = _run(
        "-v",
        "search",
        "--sources",
        str(demo / "sources.yaml"),
        "--request",
        str(demo / "request.json"),
        "--case",
        str(case),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # the whole summary reached stdout
    assert summary["complete"] is True
    assert json.loads((case / "summary.json").read_text())["totals"] == summary["totals"]
    assert "ATEXIT" in result.stderr
    assert "discover.engine" in result.stderr  # log lines were flushed
    assert "TEARDOWN" not in result.stderr  # the teardown was skipped


def test_a_search_that_fails_on_input_ends_the_normal_way(tmp_path: Path) -> None:
    result = _run(
        "search",
        "--sources",
        str(tmp_path / "none.yaml"),
        "--email",
        "a@b.nl",
        "--case",
        str(tmp_path / "case"),
    )
    assert result.returncode == 2
    assert "ATEXIT" in result.stderr
    assert "TEARDOWN" in result.stderr  # no case was written: nothing said it is closed


def test_other_commands_end_the_normal_way() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert "discover" in result.stdout
    assert "ATEXIT" in result.stderr and "TEARDOWN" in result.stderr


@pytest.fixture
def recorded_exit(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    codes: list[int] = []
    monkeypatch.setattr(ending.os, "_exit", codes.append)
    monkeypatch.setattr(ending.atexit, "_run_exitfuncs", lambda: codes.append(-1))
    yield codes
    ending.reset()


def test_leave_waits_for_the_command_to_say_its_outputs_are_closed(
    recorded_exit: list[int],
) -> None:
    ending.reset()
    ending.leave(0)
    assert recorded_exit == []
    ending.outputs_closed()
    ending.leave(1)
    assert recorded_exit == [-1, 1]  # the atexit handlers first, then the exit


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), ("stopped", 1)])
def test_leave_exits_with_the_status_python_gives_a_system_exit(
    recorded_exit: list[int], code: object, status: int
) -> None:
    ending.outputs_closed()
    ending.leave(code)
    assert recorded_exit == [-1, status]


def test_leave_does_not_end_a_process_whose_other_thread_still_works(
    recorded_exit: list[int],
) -> None:
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=False)
    worker.start()
    try:
        ending.outputs_closed()
        ending.leave(0)
        assert recorded_exit == []
    finally:
        release.set()
        worker.join()
    ending.leave(0)  # once it is done, the process may end
    assert recorded_exit == [-1, 0]
