"""Benchmark: one-subject scans of a big inventory CSV and XLSX against raw polars.

Builds a 1,000,000-row SIM inventory CSV (polars) and a 200,000-row XLSX (xlsxwriter,
constant_memory) with the columns of the shipped mobile inventory mapping, MSISDNs in
mixed notations. Then, for a search by e-mail and by phone, it measures

* discover: the tabular connector built from a sources file and the shipped mapping,
  ``scan([identifier])`` (fresh connector each time: no cached workbook);
* baseline: ``polars.scan_csv(path).filter(col == value).collect()`` for the CSV and
  ``polars.read_excel(path, engine="calamine").filter(col == value)`` for the XLSX,
  comparing the stored text exactly (no normalisation at all);
* indexed: the same source with its persistent file index (in the work directory):
  the time to build the index from nothing, and a search once it is built. The
  discover column above reads every row (``connection.index: false``).

Each measurement runs in its own subprocess (same imports on both sides), which
reports its median wall time over --repeat runs (the machine is shared: a median is
steadier than a best run) and its peak RSS (VmHWM). Ratios are discover / baseline:
time, peak RSS, and peak RSS above the process's size after imports.
Targets: time < 1.5, memory < 2.

    python3 benchmarks/bench_tabular.py            # 1,000,000-row CSV, 200,000-row XLSX
    python3 benchmarks/bench_tabular.py --quick    # 50,000 / 10,000 rows
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HEADER = [
    "Klant",
    "ICCID",
    "IMSI",
    "MSISDN",
    "PUK",
    "Status SIM",
    "IMEI",
    "Model",
    "Naam",
    "E-mail",
    "Kostenplaats",
    "Status",
    "Actief sinds",
]
SUBJECT_EMAIL = "subject.person@bench.example"


def subject_index(rows: int) -> int:
    return rows // 2 + 7


def msisdn(index: int) -> str:
    """The stored MSISDN text of a row, in one of four notations."""
    digits = f"{index % 10_000_000:07d}"
    return [f"06-1{digits}", f"+31 6 1{digits}", f"061{digits}", f"0031 61{digits}"][index % 4]


def write_csv(path: Path, rows: int) -> None:
    import polars as pl

    index = pl.int_range(0, rows, eager=True).alias("i")
    frame = pl.DataFrame(index).with_columns(
        pl.lit("Acme Logistiek B.V.").alias("Klant"),
        pl.format("89310410{}", pl.col("i").cast(pl.String).str.zfill(11)).alias("ICCID"),
        pl.format("20404{}", pl.col("i").cast(pl.String).str.zfill(10)).alias("IMSI"),
        pl.col("i").map_elements(msisdn, return_dtype=pl.String).alias("MSISDN"),
        pl.format("{}", (pl.col("i") * 7919 % 100_000_000).cast(pl.String).str.zfill(8)).alias(
            "PUK"
        ),
        pl.lit("in gebruik").alias("Status SIM"),
        pl.format("35209900{}", pl.col("i").cast(pl.String).str.zfill(7)).alias("IMEI"),
        pl.lit("Apple iPhone 15").alias("Model"),
        pl.format("Person {}", pl.col("i")).alias("Naam"),
        pl.format("user{}@Bench.Example ", pl.col("i")).alias("E-mail"),
        pl.format("KP-{}", pl.col("i") % 100).alias("Kostenplaats"),
        pl.when(pl.col("i") % 50 == 0)
        .then(pl.lit("Opgezegd"))
        .otherwise(pl.lit("Actief"))
        .alias("Status"),
        pl.lit("2025-03-01").alias("Actief sinds"),
    )
    target = subject_index(rows)
    frame = frame.with_columns(
        pl.when(pl.col("i") == target)
        .then(pl.lit(SUBJECT_EMAIL.upper()))
        .otherwise(pl.col("E-mail"))
        .alias("E-mail")
    )
    frame.select(HEADER).write_csv(path)


def write_xlsx(path: Path, rows: int) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("SIM-kaarten")
    sheet.write_row(0, 0, HEADER)
    target = subject_index(rows)
    for i in range(rows):
        email = SUBJECT_EMAIL.upper() if i == target else f"user{i}@Bench.Example "
        sheet.write_row(
            i + 1,
            0,
            [
                "Acme Logistiek B.V.",
                f"89310410{i:011d}",
                f"20404{i:010d}",
                msisdn(i),
                f"{i * 7919 % 100_000_000:08d}",
                "in gebruik",
                f"35209900{i:07d}",
                "Apple iPhone 15",
                f"Person {i}",
                email,
                f"KP-{i % 100}",
                "Opgezegd" if i % 50 == 0 else "Actief",
                "2025-03-01",
            ],
        )
    book.close()


def write_sources(folder: Path) -> Path:
    """The shipped inventory mapping with a one-row header, and one source per file."""
    document = yaml.safe_load((ROOT / "mappings/mobile/sim-inventory.yaml").read_text())
    document["read"] = {"sheets": 0, "header_row": 1}
    (folder / "inventory.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    sources = {
        "version": 1,
        "sources": [
            {
                "name": f"{kind}{suffix}",
                "kind": "tabular",
                "mapping": "inventory.yaml",
                "connection": {"path": f"inventory.{kind}", **connection},
            }
            for kind in ("csv", "xlsx")
            for suffix, connection in (
                ("", {"index": False}),
                ("-indexed", {"index_cache": "index-cache"}),
            )
        ],
    }
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump(sources))
    return path


# -- the measured child ----------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """Runs in a subprocess: imports, then times one kind of scan; prints JSON."""
    import resource

    import polars as pl

    from connectors import load_mappings
    from discover.engine import open_connectors
    from discover.identifiers import Identifier
    from discover.register import default_register
    from discover.sources import load_sources

    def rss_mb() -> float:
        # VmHWM: this process's own peak. getrusage's ru_maxrss is no good here: on
        # Linux a child inherits its parent's high-water mark across fork and exec.
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    folder = Path(args.workdir)
    sources = load_sources(folder / "sources.yaml")
    register = default_register()
    mappings = load_mappings(sources, register)
    file = folder / f"inventory.{args.format}"
    column, stored, kind, raw = (
        ("E-mail", SUBJECT_EMAIL.upper(), "email", SUBJECT_EMAIL)
        if args.by == "email"
        else ("MSISDN", msisdn(args.target), "phone", msisdn(args.target))
    )
    identifier = Identifier.parse(kind, raw)

    def connector_for(name: str) -> Any:
        (source,) = [s for s in sources.sources if s.name == name]
        subset = type(sources)(path=sources.path, sources=(source,), settings=sources.settings)
        (connector,) = open_connectors(subset, mappings, register)
        return connector

    after_imports = rss_mb()
    build_seconds = None
    if args.mode == "indexed":
        connector = connector_for(f"{args.format}-indexed")
        connector.clear_index()
        started = time.perf_counter()
        connector.build_index()
        build_seconds = time.perf_counter() - started
        connector.close()
    times: list[float] = []
    found = 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        if args.mode == "baseline":
            if args.format == "csv":
                frame = pl.scan_csv(file).filter(pl.col(column) == stored).collect()
            else:
                frame = pl.read_excel(file, engine="calamine").filter(pl.col(column) == stored)
            found = frame.height
        else:
            suffix = "-indexed" if args.mode == "indexed" else ""
            connector = connector_for(f"{args.format}{suffix}")
            connector.check()
            result = connector.scan([identifier])
            connector.close()
            found = len(result.records)
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "best": min(times),
                "peak_mb": rss_mb(),
                "after_imports_mb": after_imports,
                "found": found,
                "build_seconds": build_seconds,
            }
        )
    )


def measure(workdir: Path, mode: str, fmt: str, by: str, target: int, repeat: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--workdir",
        str(workdir),
        "--mode",
        mode,
        "--format",
        fmt,
        "--by",
        by,
        "--target",
        str(target),
        "--repeat",
        str(repeat),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="50,000-row CSV, 10,000-row XLSX")
    parser.add_argument("--csv-rows", type=int)
    parser.add_argument("--xlsx-rows", type=int)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument(
        "--workdir", help="where to write the files (default: a temporary directory)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--mode", choices=["baseline", "discover", "indexed"], help=argparse.SUPPRESS
    )
    parser.add_argument("--format", choices=["csv", "xlsx"], help=argparse.SUPPRESS)
    parser.add_argument("--by", choices=["email", "phone"], help=argparse.SUPPRESS)
    parser.add_argument("--target", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    csv_rows = args.csv_rows or (50_000 if args.quick else 1_000_000)
    xlsx_rows = args.xlsx_rows or (10_000 if args.quick else 200_000)
    own_dir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-tabular-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        stamp = workdir / "rows.json"
        sizes = {"csv": csv_rows, "xlsx": xlsx_rows}
        if stamp.exists() and json.loads(stamp.read_text()) == sizes:
            print(f"reusing the files in {workdir}", flush=True)
        else:
            started = time.perf_counter()
            write_csv(workdir / "inventory.csv", csv_rows)
            print(
                f"wrote {csv_rows:,}-row CSV in {time.perf_counter() - started:.1f} s", flush=True
            )
            started = time.perf_counter()
            write_xlsx(workdir / "inventory.xlsx", xlsx_rows)
            print(
                f"wrote {xlsx_rows:,}-row XLSX in {time.perf_counter() - started:.1f} s", flush=True
            )
            stamp.write_text(json.dumps(sizes))
        write_sources(workdir)
        print(
            f"\n{'file':<6}{'by':<7}{'rows':>11}{'baseline s':>12}{'discover s':>12}{'time':>7}"
            f"{'base MB':>9}{'disc MB':>9}{'mem':>6}{'mem>imports':>13}"
        )
        full: dict[tuple[str, str], float] = {}
        for fmt, rows in (("csv", csv_rows), ("xlsx", xlsx_rows)):
            for by in ("email", "phone"):
                target = subject_index(rows)
                base = measure(workdir, "baseline", fmt, by, target, args.repeat)
                mine = measure(workdir, "discover", fmt, by, target, args.repeat)
                if base["found"] != 1 or mine["found"] != 1:
                    raise SystemExit(f"{fmt}/{by}: expected one match, got {base} / {mine}")
                time_ratio = mine["seconds"] / base["seconds"]
                mem_ratio = mine["peak_mb"] / base["peak_mb"]
                above = (mine["peak_mb"] - mine["after_imports_mb"]) / max(
                    base["peak_mb"] - base["after_imports_mb"], 1.0
                )
                print(
                    f"{fmt:<6}{by:<7}{rows:>11,}{base['seconds']:>12.3f}{mine['seconds']:>12.3f}"
                    f"{time_ratio:>7.2f}{base['peak_mb']:>9.0f}{mine['peak_mb']:>9.0f}"
                    f"{mem_ratio:>6.2f}{above:>13.2f}",
                    flush=True,
                )
                full[(fmt, by)] = mine["seconds"]
        print("\ntargets: time < 1.5, memory < 2 (ratios discover / baseline)")
        print(
            f"\n{'file':<6}{'by':<7}{'rows':>11}{'full read s':>13}{'index build s':>15}"
            f"{'build/full':>12}{'indexed s':>11}{'indexed MB':>12}"
        )
        for fmt, rows in (("csv", csv_rows), ("xlsx", xlsx_rows)):
            for by in ("email", "phone"):
                indexed = measure(workdir, "indexed", fmt, by, subject_index(rows), args.repeat)
                if indexed["found"] != 1:
                    raise SystemExit(f"{fmt}/{by}: expected one match, got {indexed}")
                print(
                    f"{fmt:<6}{by:<7}{rows:>11,}{full[(fmt, by)]:>13.3f}"
                    f"{indexed['build_seconds']:>15.3f}"
                    f"{indexed['build_seconds'] / full[(fmt, by)]:>12.2f}"
                    f"{indexed['seconds']:>11.3f}{indexed['peak_mb']:>12.0f}",
                    flush=True,
                )
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
