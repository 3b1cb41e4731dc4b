"""Helpers for the batch tests: hits, requests files, a poisoned source, Celery workers."""

from __future__ import annotations

import contextlib
import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from discover.batch import BatchOptions, RequestDefaults

#: the client's instruction the batches that export client records are given
INSTRUCTION = "CLIENT-INSTRUCTION-2026-017"
#: command-line options for a batch that exports every controller's records
CLIENT_ARGS = ["--controller", "all", "--client-instruction", INSTRUCTION]


def client_options(**kwargs: Any) -> BatchOptions:
    """Options of a batch exporting every controller's records, on a client's instruction.

    Packages then carry no ``-provider`` suffix and hold the client records too.
    """
    defaults = kwargs.pop("defaults", RequestDefaults())
    return BatchOptions(
        defaults=RequestDefaults(
            kind=defaults.kind, language=defaults.language, controller="all", strict=defaults.strict
        ),
        client_instruction=INSTRUCTION,
        **kwargs,
    )


#: observed_at says when a record was read, so it differs between any two searches.
VOLATILE = ("observed_at",)


def comparable(hits: pa.Table) -> list[tuple[Any, ...]]:
    """The hits as sorted rows without the columns that differ between two runs."""
    columns = [name for name in hits.column_names if name not in VOLATILE]
    rows = hits.select(columns).to_pylist()
    return sorted(tuple((k, repr(row[k])) for k in columns) for row in rows)


def case_hits(case: Path) -> list[tuple[Any, ...]]:
    return comparable(pq.read_table(case / "hits.parquet"))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns: list[str] = []
    for row in rows:
        columns.extend(column for column in row if column not in columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, documents: list[dict[str, Any] | str]) -> Path:
    lines = [d if isinstance(d, str) else json.dumps(d, ensure_ascii=False) for d in documents]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_report(out: Path) -> dict[str, Any]:
    return json.loads((out / "batch-report.json").read_text(encoding="utf-8"))


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["request_id"]: line for line in report["requests"] if line["request_id"]}


def poison(database: Path, table: str, column: str, value: str, *, spoil: str) -> None:
    """Make every query that returns the row whose ``column`` is ``value`` fail.

    The table becomes a view over its data in which, for that one row, the column
    ``spoil`` is ``abs(-9223372036854775808)``: SQLite raises "integer overflow"
    whenever the row is read. A real database error in a real source, hit only by a
    search whose identifiers reach that row (a corrupt record, in effect). ``spoil``
    must be a column no query filters on (not a key or join column).
    """
    connection = sqlite3.connect(database)
    try:
        names = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        literal = value.replace("'", "''")
        select = ", ".join(
            f"CASE WHEN {column} = '{literal}' THEN abs(-9223372036854775807 - 1) "
            f"ELSE {name} END AS {name}"
            if name == spoil
            else name
            for name in names
        )
        connection.executescript(
            f"""
            ALTER TABLE {table} RENAME TO {table}_data;
            CREATE VIEW {table} AS SELECT {select} FROM {table}_data;
            """
        )
    finally:
        connection.close()


def cure(database: Path, table: str) -> None:
    """Undo :func:`poison`."""
    connection = sqlite3.connect(database)
    try:
        connection.executescript(f"DROP VIEW {table}; ALTER TABLE {table}_data RENAME TO {table};")
    finally:
        connection.close()


def package_dirs(out: Path) -> list[str]:
    """Every entry of packages/, hidden ones (staging leftovers) included."""
    folder = out / "packages"
    return sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []


class CeleryWorker:
    """A real ``celery worker`` process on the local Redis, with its own queue and keys.

    Started with ``--pool=prefork --concurrency=1``: the task runs in a pool child, which
    a test may kill to lose a task mid-shard. Stopped by PID, the pool children too
    (kept as psutil handles, which refuse to signal a PID that was reused meanwhile).
    """

    def __init__(self, env: dict[str, str], log: Path, name: str) -> None:
        self.env = env
        self.log = log
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None
        self.known: dict[int, psutil.Process] = {}

    def start(self, timeout: float = 90) -> CeleryWorker:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "discover.batch.celery_app",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-n",
            f"{self.name}@%h",
        ]
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=handle, stderr=subprocess.STDOUT, cwd=self.log.parent
            )
        self.known[self.process.pid] = psutil.Process(self.process.pid)
        deadline = time.monotonic() + timeout
        while "ready." not in self.text():
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"worker not ready in {timeout} s:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        self.children()
        return self

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def children(self) -> list[psutil.Process]:
        """The worker's live children (remembered for stop())."""
        if self.process is None:
            return []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            self.known.setdefault(child.pid, child)
        return children

    def kill_child(self) -> int:
        """SIGKILL the pool process (the one running the task); returns its PID."""
        children = self.children()
        assert len(children) == 1, children
        children[0].send_signal(signal.SIGKILL)
        return children[0].pid

    def _kill_known(self) -> None:
        for process in self.known.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    process.send_signal(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the worker and its pool, as if the machine died."""
        self.children()
        self._kill_known()
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown by SIGTERM; SIGKILL whatever is left after 20 s (by PID)."""
        self.children()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        self._kill_known()
        if self.process is not None and self.process.poll() is None:
            self.process.wait(timeout=30)


def drop_redis_keys(redis_url: str, prefix: str) -> None:
    """Remove every key a test run made (they all start with its prefix)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
