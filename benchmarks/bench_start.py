"""Benchmark: how long ``discover --help`` takes, against the bare interpreter's start.

Help and usage errors must not wait for the data libraries (polars, pyarrow,
SQLAlchemy, openpyxl, xlsxwriter): the command line loads them only when a command
runs. This measures the wall time of a fresh process for

* baseline: ``python3 -c pass`` (the interpreter and its site packages);
* ``discover --help``, and with ``--all`` each command's ``--help``,

each the median of --repeat runs, alternating so that a busy moment of a shared
machine hits both sides. It prints absolute times, the time above the baseline and
the ratio; it also says which of the data libraries each process imported (none
should be). Target: ``discover --help`` under 0.3 s.

    python3 benchmarks/bench_start.py              # discover --help, 21 runs
    python3 benchmarks/bench_start.py --all        # every command's --help as well
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("polars", "pyarrow", "sqlalchemy", "openpyxl", "xlsxwriter")
CLI = "from discover.cli import main; main()"
#: the same start, then the data libraries it imported, on stderr
PROBE = (
    "import sys\n"
    "try:\n"
    f"    {CLI}\n"
    "except SystemExit:\n"
    "    pass\n"
    f"print(*[m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
)


def wall(argv: list[str]) -> float:
    """Seconds from start to exit of one process, its output discarded."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started


def heavy_imports(args: list[str]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr.split()


def commands() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from discover.cli import COMMANDS

    return sorted(COMMANDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="runs per measurement")
    parser.add_argument("--all", action="store_true", help="each command's --help as well")
    args = parser.parse_args()

    cases = [["--help"]] + ([[name, "--help"] for name in commands()] if args.all else [])
    bare: list[float] = []
    times: dict[str, list[float]] = {" ".join(case): [] for case in cases}
    for _ in range(args.repeat):
        bare.append(wall([sys.executable, "-c", "pass"]))
        for case in cases:
            times[" ".join(case)].append(wall([sys.executable, "-c", CLI, *case]))
    baseline = statistics.median(bare)
    print(f"python3 -c pass: {baseline * 1000:.0f} ms (median of {args.repeat})")
    print(f"{'command':<28}{'median':>8}{'above':>8}{'ratio':>7}  data libraries imported")
    for case in cases:
        label = " ".join(case)
        median = statistics.median(times[label])
        loaded = ", ".join(heavy_imports(case)) or "none"
        print(
            f"{'discover ' + label:<28}{median * 1000:>6.0f}ms{(median - baseline) * 1000:>6.0f}ms"
            f"{median / baseline:>7.2f}  {loaded}"
        )


if __name__ == "__main__":
    main()
