"""``discover --help`` stays fast: the console's stack loads only when a desk command runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("starlette", "uvicorn", "jinja2", "alembic", "argon2", "discover.desk.store")


def test_help_imports_none_of_the_console_stack() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from discover.cli import cli\n"
        "for args in (['--help'], ['requests', '--help'], ['serve', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
