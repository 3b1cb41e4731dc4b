"""Logs never carry the subject's personal data in clear, at info or debug level.

Logs end up in terminals, CI output and log collectors that are not protected like a
case directory. The console summary (stdout) is for the privacy officer and may name
the identifiers; the log lines (stderr) may name sources and counts only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from discover.request import load_request


def _discover(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from discover.cli import main; main()", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def _personal_values(demo: Path) -> list[str]:
    """The request's identifiers and what the search found from them, as stored."""
    request = load_request(demo / "request.json")
    values = [identifier.value for identifier in request.identifiers]
    values += ["jan.devries", "de vries", "612345678", "001565abcd01", "00:15:65"]
    return values


def _assert_no_personal_data(log: str, demo: Path) -> None:
    assert "discover.engine" in log  # the log level really produced log lines
    lowered = log.lower()
    for value in _personal_values(demo):
        assert value.lower() not in lowered, f"{value!r} appears in the log"


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_search_logs_hold_no_personal_data(demo: Path, tmp_path: Path, verbosity: str) -> None:
    result = _discover(
        verbosity,
        "search",
        "--sources",
        str(demo / "sources.yaml"),
        "--request",
        str(demo / "request.json"),
        "--case",
        str(tmp_path / "case"),
    )
    assert "jan.devries" in result.stdout.lower()  # the summary for staff does name them
    _assert_no_personal_data(result.stderr, demo)


def test_batch_logs_hold_no_personal_data(demo: Path, tmp_path: Path) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text("request_id,email,phone\nB-1,Jan.DeVries@Acme-Logistiek.NL,06-12345678\n")
    result = _discover(
        "-vv",
        "batch",
        str(requests),
        "--sources",
        str(demo / "sources.yaml"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    )
    _assert_no_personal_data(result.stderr, demo)
