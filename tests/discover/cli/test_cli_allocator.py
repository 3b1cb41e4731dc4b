"""The console script tells polars's allocator to give freed memory back at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from discover import allocator

ROOT = Path(__file__).resolve().parents[3]


def test_the_console_script_sets_it_before_the_command_runs() -> None:
    child = (
        "import os, discover.cli\n"
        "discover.cli.cli = lambda prog_name: print(os.environ.get('_RJEM_MALLOC_CONF'))\n"
        "discover.cli.main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != allocator.VARIABLE}
    env["PYTHONPATH"] = str(ROOT)
    shown = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == allocator.GIVE_BACK_AT_ONCE
