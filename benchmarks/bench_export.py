"""Benchmark: a 100,000-hit package in each format against a bare write of the same rows.

For each format (json, csv, xlsx) it times ``discover export`` end to end (read the
case, apply the policy, build the content, write the files, checksums, manifest,
atomic rename, export log) and, in the same run, two bare writes with the same
library and no package logic:

* **hits**: the case's 100,000 hit rows (all hit columns), already in memory,
  written with ``json.dumps`` (an array of row objects), ``csv.writer`` (one file)
  or ``xlsxwriter`` in constant-memory mode (one sheet, ``write_row``);
* **tables**: the rows the package's own files hold (one table per record type,
  after the policy), written the same bare way — the strictest comparison, since it
  leaves out everything but the final write.

Ratios are export time / bare time (best of ``--repeat`` runs each); the target is
under 1.5 against the hit rows. ``--quick`` uses 10,000 hits.

    python3 benchmarks/bench_export.py [--quick] [--hits N] [--repeat R] [--kind access]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

# the packages first (tests/connectors must not shadow them), then tests/support
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))

from support.synthetic_case import write_synthetic_case

from discover.case import read_case
from discover.policy import select_hits
from exporters import export_package
from exporters.tables import record_types

Rows = list[tuple[Any, ...]]
Tables = list[tuple[str, list[str], Rows]]


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def make_bare(fmt: str, path: Path, tables: Tables) -> Callable[[], None]:
    """A bare write of ``tables`` in ``fmt``; JSON row objects are built before timing."""
    if fmt == "json":
        document = {
            name: [dict(zip(header, row, strict=True)) for row in rows]
            for name, header, rows in tables
        }

        def run_json() -> None:
            with open(path / "bare.json", "w", encoding="utf-8") as handle:
                handle.write(json.dumps(document, ensure_ascii=False, default=str))

        return run_json
    if fmt == "csv":

        def run_csv() -> None:
            for index, (_name, header, rows) in enumerate(tables):
                with open(path / f"bare-{index}.csv", "w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(header)
                    writer.writerows(rows)

        return run_csv

    def run_xlsx() -> None:
        book = xlsxwriter.Workbook(
            str(path / "bare.xlsx"), {"constant_memory": True, "remove_timezone": True}
        )
        for index, (_name, header, rows) in enumerate(tables):
            sheet = book.add_worksheet(f"t{index}")
            sheet.write_row(0, 0, header)
            for number, row in enumerate(rows, start=1):
                sheet.write_row(number, 0, row)
        book.close()

    return run_xlsx


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 hits instead of 100,000")
    parser.add_argument("--hits", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kind", choices=["access", "portability"], default="access")
    args = parser.parse_args(argv)
    n_hits = args.hits or (10_000 if args.quick else 100_000)
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        case_path = work / "case"
        write_synthetic_case(case_path, n_hits, leak_secrets=True)
        case = read_case(case_path)
        frame = pl.from_arrow(case.hits)
        assert isinstance(frame, pl.DataFrame)
        hit_tables: Tables = [("hits", frame.columns, frame.rows())]
        selection = select_hits(case.hits, kind=args.kind)
        package_tables: Tables = [
            (r.id, r.frame.columns, r.frame.rows())
            for r in record_types(selection.hits, kind=args.kind)
        ]
        print(
            f"{case.hits.num_rows} hits in the case; {selection.hits.num_rows} in the "
            f"{args.kind} package, {sum(len(t[2]) for t in package_tables)} records in "
            f"{len(package_tables)} record types; best of {args.repeat}"
        )
        print(
            f"{'format':<6} {'export s':>9} {'bare hits s':>12} {'ratio':>6} "
            f"{'bare tables s':>14} {'ratio':>6}"
        )
        for fmt in ("json", "csv", "xlsx"):
            out = work / f"out-{fmt}"

            def export(fmt: str = fmt, out: Path = out) -> None:
                export_package(
                    case_path,
                    kind=args.kind,
                    formats=[fmt],
                    out=out,
                    force=True,
                    allow_undecided=True,  # the synthetic case's possible matches stay out
                )

            bare_dir = work / f"bare-{fmt}"
            bare_dir.mkdir()
            ours = best_of(args.repeat, export)
            hits_time = best_of(args.repeat, make_bare(fmt, bare_dir, hit_tables))
            tables_time = best_of(args.repeat, make_bare(fmt, bare_dir, package_tables))
            print(
                f"{fmt:<6} {ours:>9.3f} {hits_time:>12.3f} {ours / hits_time:>6.2f} "
                f"{tables_time:>14.3f} {ours / tables_time:>6.2f}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
