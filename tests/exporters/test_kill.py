"""kill -9 of an export in progress leaves no package or a complete one, never a partial one.

A large constructed case is exported by `discover export` in a subprocess, which is
killed at several moments of a full run; after each kill the final name holds
nothing or a package whose manifest verifies. With --force over an existing package
the final name always holds a complete package (the old or the new one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from support.synthetic_case import write_synthetic_case

from exporters import verify_package

FRACTIONS = (0.3, 0.5, 0.7, 0.85, 0.95)
NAME = "REQ-SYNTH-0001-access-provider"


def _command(case: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from discover.cli import main; main()",
        "export",
        str(case),
        "--format",
        "json,csv,xlsx",
        "--out",
        str(out),
        "--allow-undecided",
        *extra,
    ]


def _killed_at(command: list[str], seconds: float) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    process.kill()  # SIGKILL
    process.wait()


def _killed_while_writing(command: list[str], out: Path) -> None:
    """Kill the export as soon as its staging directory appears (a kill that is sure
    to land while the package is being written, whatever the machine's speed)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and not _staging(out):
        time.sleep(0.001)
    process.kill()  # SIGKILL
    process.wait()


def _staging(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name.startswith(f".{NAME}.tmp-")] if out.exists() else []


def test_kill_9_never_leaves_a_partial_package(tmp_path: Path) -> None:
    case = tmp_path / "case"
    write_synthetic_case(case, 30_000)
    out = tmp_path / "out"
    started = time.monotonic()
    subprocess.run(_command(case, out), check=True, capture_output=True)
    full = time.monotonic() - started
    final = out / NAME
    assert verify_package(final) == []
    reference = sorted(p.relative_to(final).as_posix() for p in final.rglob("*"))
    shutil.rmtree(final)

    mid_write = 0
    for fraction in (None, *FRACTIONS):  # None: as soon as the writing starts
        if fraction is None:
            _killed_while_writing(_command(case, out), out)
        else:
            _killed_at(_command(case, out), full * fraction)
        mid_write += bool(_staging(out))
        if final.exists():
            assert verify_package(final) == [], f"partial package after a kill at {fraction}"
            assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*")) == reference
            shutil.rmtree(final)
        visible = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        assert visible in ([], [NAME])
    assert mid_write, "no kill happened while the package was being written"

    # the next export removes what the killed ones left and writes a complete package
    subprocess.run(_command(case, out), check=True, capture_output=True)
    assert [p.name for p in out.iterdir()] == [NAME]
    assert verify_package(final) == []


def test_kill_9_during_force_keeps_a_complete_package(tmp_path: Path) -> None:
    case = tmp_path / "case"
    write_synthetic_case(case, 20_000)
    out = tmp_path / "out"
    started = time.monotonic()
    subprocess.run(_command(case, out), check=True, capture_output=True)
    full = time.monotonic() - started
    final = out / NAME
    for fraction in FRACTIONS:
        _killed_at(_command(case, out, "--force"), full * fraction)
        assert final.is_dir(), f"no package after a kill at {fraction} with --force"
        assert verify_package(final) == []
