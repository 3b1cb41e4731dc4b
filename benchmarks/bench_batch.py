"""Benchmark: one batch of 1,000 subjects against 1,000 single searches.

The estate (``support.synthetic_estate``) holds a CRM with 1,000,000 contacts (SQLite,
plus tickets, call recordings, internet lines, website accounts), a telephony
platform with 5,000,000 call-detail records (SQLite), and a 1,000,000-row SIM
inventory (CSV, read by the tabular connector with the shipped inventory mapping).
It is built once with ``executemany`` in large transactions and kept in ``--estate``
for later runs.

The subjects are 1,000 random people: four in five by e-mail, one in five by mobile
number. Measured in the same run:

* single: a random sample of ``--sample`` subjects, each searched on its own with
  ``discover.search`` and written as a case and a package (what ``discover search``
  plus ``discover export`` do); the mean, times the number of subjects, is the
  baseline;
* local: ``discover batch`` in a subprocess with the local executor (one process);
* celery: ``discover batch --executor celery --workers 2`` with two real Celery
  worker processes on the local Redis.

Printed per mode: wall time, subjects per second, the ratio of the scaled single
searches to the batch's wall time (target: at least 20), CPU seconds, and peak RSS
(the batch process; for Celery each worker's). The sampled subjects' batch cases are
compared with their single searches (hits without ``observed_at``).

    python3 benchmarks/bench_batch.py            # full size (the estate takes minutes to build)
    python3 benchmarks/bench_batch.py --quick    # 20,000 contacts, 100,000 calls, 100 subjects
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # the test-data generators live in tests/support

from support import synthetic_estate as synthetic  # noqa: E402

from discover.case import write_case  # noqa: E402
from discover.engine import search  # noqa: E402
from discover.request import build_request  # noqa: E402
from discover.sources import load_sources  # noqa: E402
from exporters import export_package  # noqa: E402

CLI = [sys.executable, "-c", "from discover.cli import main; main()"]
STAMP = "bench-stamp.json"


def estate(
    folder: Path, sizes: synthetic.Sizes, rebuild: bool
) -> tuple[synthetic.SynthEstate, float | None]:
    """The estate in ``folder``, built unless a previous run left one of these sizes."""
    stamp = folder / STAMP
    wanted = {
        "people": sizes.people,
        "cdrs": sizes.cdrs,
        "inventory": sizes.inventory,
        "tabular": synthetic.tabular_available(),
        "generator": 2,
    }
    if not rebuild and stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return synthetic.SynthEstate(folder, sizes), None
    if folder.exists():
        shutil.rmtree(folder)
    started = time.perf_counter()
    built = synthetic.build(folder, sizes)
    elapsed = time.perf_counter() - started
    stamp.write_text(json.dumps(wanted))
    return built, elapsed


def subject_rows(indexes: list[int], names: bool) -> list[dict[str, str]]:
    """Four in five by e-mail (in some spelling), one in five by mobile number."""
    rows = []
    for position, index in enumerate(indexes):
        person = synthetic.person(index)
        row = {"request_id": f"B-{index:07d}", "email": "", "phone": "", "name": ""}
        if position % 5 == 4:
            row["phone"] = "0" + person.mobile[3:]
        else:
            row["email"] = person.email.upper() if position % 2 else person.email
        if names and position % 7 == 0:
            row["name"] = person.name
        rows.append(row)
    return rows


def comparable(table: Any) -> list[tuple[Any, ...]]:
    columns = [c for c in table.column_names if c != "observed_at"]
    return sorted(tuple(repr(v) for v in row.values()) for row in table.select(columns).to_pylist())


def singles(
    sources_path: Path, rows: list[dict[str, str]], work: Path
) -> tuple[list[float], dict[str, Any]]:
    """Search each subject alone, write its case and package; wall seconds each."""
    sources = load_sources(sources_path)
    seconds, hits = [], {}
    for row in rows:
        pairs = [(kind, row[kind]) for kind in ("email", "phone", "name") if row.get(kind)]
        started = time.perf_counter()
        request = build_request(pairs, request_id=row["request_id"])
        result = search(request, sources)
        case = work / "cases" / row["request_id"]
        write_case(result, case, force=True)
        # as the batch does: undecided matches stay out (a batch has no review step)
        export_package(case, out=work / "packages", force=True, allow_undecided=True)
        seconds.append(time.perf_counter() - started)
        hits[row["request_id"]] = comparable(result.hits)
        print(
            f"  single {row['request_id']}: {seconds[-1]:.2f} s, {result.hits.num_rows} hits",
            flush=True,
        )
    return seconds, hits


def run_cli(
    arguments: list[str], env: dict[str, str] | None = None
) -> tuple[float, dict[str, Any], Any]:
    """Run ``discover`` in a subprocess: wall seconds, its JSON report, its rusage."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen([*CLI, *arguments], stdout=stdout, stderr=stderr, env=env)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if process.returncode not in (0, 1):
            text = stderr.read().decode(errors="replace")
            raise SystemExit(f"discover batch failed ({process.returncode}):\n{text[-3000:]}")
        return elapsed, json.loads(stdout.read()), usage


class Workers:
    """Two real Celery workers (one pool process each) on a queue of their own."""

    def __init__(self, count: int, redis_url: str, folder: Path) -> None:
        token = secrets.token_hex(4)
        self.prefix = f"discover-bench-{token}:"
        self.env = {
            **os.environ,
            "DISCOVER_BROKER_URL": redis_url,
            "DISCOVER_QUEUE": f"discover-bench-{token}",
            "DISCOVER_KEY_PREFIX": self.prefix,
        }
        self.redis_url = redis_url
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = [folder / f"worker{n}.log" for n in range(count)]
        self.peak: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        for number, log in enumerate(self.logs):
            with log.open("wb") as handle:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "discover.batch.celery_app",
                            "worker",
                            "--pool=prefork",
                            "--concurrency=1",
                            "--loglevel=WARNING",
                            "--without-mingle",
                            "--without-gossip",
                            "--without-heartbeat",
                            "-n",
                            f"bench{number}@%h",
                        ],
                        env=self.env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 120
        while not all(len(self._family(p)) > 1 for p in self.processes):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.stop()
                raise SystemExit(
                    "celery workers did not start: " + self.logs[0].read_text()[-2000:]
                )
            time.sleep(0.2)
        time.sleep(1.0)  # consumers attached
        self._watcher.start()

    def _family(self, process: subprocess.Popen[bytes]) -> list[psutil.Process]:
        try:
            main = psutil.Process(process.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _watch(self) -> None:
        while not self._stop.is_set():
            for process in self.processes:
                for member in self._family(process):
                    try:
                        info = member.memory_info().rss
                        times = member.cpu_times()
                    except psutil.NoSuchProcess:
                        continue
                    self.peak[member.pid] = max(self.peak.get(member.pid, 0), info)
                    self.cpu[member.pid] = times.user + times.system
            time.sleep(0.25)

    def stop(self) -> None:
        self._stop.set()
        family = [m for p in self.processes for m in self._family(p)]
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for member in family:  # by PID, pool processes included
            try:
                if member.is_running():
                    member.kill()
            except psutil.NoSuchProcess:
                pass
        import redis

        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def redis_up(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
        return True
    except redis.RedisError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a quick check")
    parser.add_argument("--estate", type=Path, default=None, help="where the estate is built/kept")
    parser.add_argument("--rebuild", action="store_true", help="build the estate even if present")
    parser.add_argument("--subjects", type=int, default=None)
    parser.add_argument("--sample", type=int, default=None, help="single searches timed")
    parser.add_argument("--shard-size", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None, help="identifiers per query")
    parser.add_argument(
        "--names", action="store_true", help="also search every 7th subject by name"
    )
    parser.add_argument("--no-celery", action="store_true")
    parser.add_argument(
        "--redis", default=os.environ.get("DISCOVER_BROKER_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    if args.quick:
        sizes = synthetic.Sizes(people=20_000, cdrs=100_000, inventory=20_000)
        subjects, sample = args.subjects or 100, args.sample or 10
    else:
        sizes = synthetic.Sizes(people=1_000_000, cdrs=5_000_000, inventory=1_000_000)
        subjects, sample = args.subjects or 1_000, args.sample or 10
    folder = (
        args.estate
        or Path(tempfile.gettempdir()) / f"discover-bench-batch-{'quick' if args.quick else 'full'}"
    )
    built, build_seconds = estate(folder, sizes, args.rebuild)
    tabular = (
        "inventory" if synthetic.tabular_available() else "no inventory (tabular connector missing)"
    )
    print(
        f"estate {folder}: {sizes.people:,} contacts, {sizes.cdrs:,} call records, "
        f"{sizes.inventory:,}-row {tabular}; "
        + (f"built in {build_seconds:.0f} s" if build_seconds else "reused"),
        flush=True,
    )

    rng = random.Random(20261128)
    indexes = rng.sample(range(sizes.people), subjects)
    rows = subject_rows(indexes, args.names)
    requests = folder / f"requests-{subjects}.csv"
    synthetic.write_requests_csv(requests, rows)
    sampled = rng.sample(rows, sample)

    print(
        f"single searches ({sample} of {subjects} subjects, each with its case and package):",
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=folder) as work:
        cpu_before = time.process_time()
        seconds, single_hits = singles(built.sources, sampled, Path(work))
        single_cpu = time.process_time() - cpu_before
    mean = sum(seconds) / len(seconds)
    baseline = mean * subjects
    print(
        f"  mean {mean:.2f} s -> {subjects:,} single searches ≈ {baseline:,.0f} s "
        f"(CPU {single_cpu / len(seconds):.2f} s each)",
        flush=True,
    )

    results: list[tuple[str, float, dict[str, Any], float, float, int]] = []
    shard = ["--shard-size", str(args.shard_size)] if args.shard_size else []
    if args.chunk_size:
        shard += ["--chunk-size", str(args.chunk_size)]
    out_local = folder / "out-local"
    shutil.rmtree(out_local, ignore_errors=True)
    print("batch, local executor …", flush=True)
    wall, report, usage = run_cli(
        [
            "batch",
            str(requests),
            "--sources",
            str(built.sources),
            "--out",
            str(out_local),
            "--no-progress",
            "--json",
            *shard,
        ]
    )
    results.append(
        (
            "local, 1 process",
            wall,
            report,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss * 1024,
            1,
        )
    )

    if not args.no_celery and redis_up(args.redis):
        out_celery = folder / "out-celery"
        shutil.rmtree(out_celery, ignore_errors=True)
        workers = Workers(2, args.redis, folder)
        print("batch, 2 Celery workers …", flush=True)
        workers.start()
        try:
            wall, report, usage = run_cli(
                [
                    "batch",
                    str(requests),
                    "--sources",
                    str(built.sources),
                    "--out",
                    str(out_celery),
                    "--no-progress",
                    "--json",
                    "--executor",
                    "celery",
                    "--workers",
                    "2",
                    *shard,
                ],
                env=workers.env,
            )
        finally:
            workers.stop()
        peak = max(workers.peak.values(), default=0)
        cpu = sum(workers.cpu.values()) + usage.ru_utime + usage.ru_stime
        results.append(("celery, 2 workers", wall, report, cpu, peak, 2))
    elif not args.no_celery:
        print(f"(no Redis at {args.redis}: Celery run skipped)")

    same = 0
    for row in sampled:
        case = out_local / "cases" / row["request_id"]
        same += comparable(pq.read_table(case / "hits.parquet")) == single_hits[row["request_id"]]
    print(f"sampled subjects whose batch case equals their single search: {same}/{len(sampled)}")

    print()
    print(
        f"{'mode':<20} {'wall s':>9} {'subjects/s':>11} {'vs singles':>11} {'CPU s':>8} "
        f"{'peak RSS MB':>12} {'shards':>7} {'complete':>9}"
    )
    print(
        f"{'single (scaled)':<20} {baseline:>9,.0f} {subjects / baseline:>11.2f} {1:>10.1f}x "
        f"{single_cpu / len(seconds) * subjects:>8,.0f} {'':>12} {'':>7} {'':>9}"
    )
    for name, wall, report, cpu, peak, _n in results:
        totals = report["totals"]
        print(
            f"{name:<20} {wall:>9,.1f} {subjects / wall:>11.2f} {baseline / wall:>10.1f}x "
            f"{cpu:>8,.0f} {peak / 2**20:>12,.0f} {report['settings']['shards']:>7} "
            f"{totals['complete']:>5}/{totals['requests']}"
        )
    print("target: a batch at least 20x faster than the single searches")
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"(benchmark process peak RSS {own_peak:,.0f} MB; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
