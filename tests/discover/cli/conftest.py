"""Fixtures of the command-line tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo estate as ``discover demo --out`` writes it, built once for these tests."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    command = [sys.executable, "-c", "from discover.cli import main; main()", "demo"]
    result = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    return out
