"""SQL search benchmark: one subject in a 1,000,000-row contact table.

Builds a ``contacts`` table in SQLite and in a fresh PostgreSQL database (dropped at
the end) with phone numbers in mixed surface formats (06-1234 5678, +31 (0)6 …,
0031 6 …, 316…) and e-mail addresses in mixed case, some with surrounding spaces.
Three rows hold the subject's e-mail and three the subject's mobile, each in another
spelling. Then, for a one-subject search by e-mail and by phone, it prints

* the engine's time — ``discover.engine.search`` with warm connectors (connected,
  statements compiled once), max_depth 0 so that only the one search runs — as a
  ratio to the database's own time for an equivalent hand-written query run through
  the bare driver in the same process, median of ``--repeat`` interleaved runs;
* rows transferred (the connector's ``rows_read``) against rows matched.

Two baselines for e-mail: what a DBA writes, ``lower(trim(email)) = :e``, and the
engine's own canonical expression written out (it also reads display forms such as
``Jan <jan@example.nl>``, tabs and line ends). For phone, the hand-written query
strips the same characters and compares the last nine digits.

Then the same with expression indexes: the engine's (``index_expression``) for the
engine, ``lower(trim(email))`` for the DBA's query.

    python3 benchmarks/bench_sql.py                 # 1,000,000 rows, SQLite and PostgreSQL
    python3 benchmarks/bench_sql.py --quick         # 50,000 rows
    python3 benchmarks/bench_sql.py --rows 200000 --backends sqlite --repeat 3
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from connectors import load_mappings
from connectors.sql.predicates import index_expression
from discover.engine import open_connectors, search
from discover.register import default_register
from discover.request import build_request
from discover.sources import SourcesConfig, load_sources

FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
PG_ADMIN = os.environ.get(
    "DISCOVER_BENCH_PG",
    os.environ.get("DISCOVER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)
SUBJECT_EMAIL = "jan.devries@example.nl"
SUBJECT_PHONE = "+31612345678"
SUBJECT_NSN = "612345678"
#: the subject's rows: (e-mail, phone) spellings; None where the row is someone else's
SUBJECT_ROWS = [
    ("Jan.DeVries@Example.NL", None),
    ("  jan.devries@example.nl ", None),
    ("JAN.DEVRIES@EXAMPLE.NL", None),
    (None, "06-1234 5678"),
    (None, "+31 (0)6 12345678"),
    (None, "31612345678"),
]
COLUMNS = ("id", "full_name", "email", "phone", "city")
FIRST = ("Jan", "Anna", "Pieter", "Sanne", "Mohamed", "Fatima", "Zoë", "Daan", "Emma", "Lucas")
LAST = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "El Amrani", "Çelik")
CITIES = ("Rotterdam", "Amsterdam", "Delft", "Utrecht", "Eindhoven", "Groningen")
DOMAINS = ("example.nl", "Example.com", "ACME-LOGISTIEK.NL", "mail.example.org")
PHONE_FORMATS: tuple[Callable[[str], str], ...] = (
    lambda d: f"06-{d[:4]} {d[4:]}",
    lambda d: f"+31 (0)6 {d}",
    lambda d: f"0031 6 {d[:4]} {d[4:]}",
    lambda d: f"316{d}",
    lambda d: f"+316{d}",
    lambda d: f"06 {d}",
)

MAPPING = {
    "version": 1,
    "kind": "sql",
    "description": "benchmark contact table",
    "tables": {
        "contacts": {
            "key": "id",
            "category": "general.contact",
            "columns": {
                "id": None,
                "full_name": None,
                "email": {"identifier": "email"},
                "phone": {"identifier": "phone"},
                "city": None,
            },
        }
    },
}


def contact_rows(count: int, seed: int = 20261128) -> Iterator[tuple[Any, ...]]:
    """``count`` contacts; the subject's six rows spread over the table."""
    rng = random.Random(seed)
    special = {count * (k + 1) // (len(SUBJECT_ROWS) + 1): k for k in range(len(SUBJECT_ROWS))}
    for index in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last.replace(' ', '')}{index}"
        email = f"{local}@{rng.choice(DOMAINS)}"
        style = index % 4
        if style == 1:
            email = email.lower()
        elif style == 2:
            email = email.upper()
        elif style == 3:
            email = f" {email} "
        digits = f"{20000000 + index:08d}"  # 06-2xxxxxxx: never the subject's number
        phone = PHONE_FORMATS[index % len(PHONE_FORMATS)](digits)
        if index in special:
            subject_email, subject_phone = SUBJECT_ROWS[special[index]]
            email = subject_email or email
            phone = subject_phone or phone
        yield (index + 1, f"{first} {last}", email, phone, rng.choice(CITIES))


# -- backends ----------------------------------------------------------------------------


@dataclass
class Query:
    """A hand-written query and its parameters."""

    label: str
    sql: str
    params: tuple[Any, ...]


class Backend:
    name: str
    url: str

    def build(self, count: int) -> None:
        raise NotImplementedError

    def connect(self) -> Any:
        raise NotImplementedError

    def queries(self) -> dict[str, list[Query]]:
        raise NotImplementedError

    def expression(self, kind: str) -> str:
        """The engine's search expression for ``kind`` on ``email``/``phone``, as SQL text."""
        table = sa.table("contacts", sa.column("email"), sa.column("phone"))
        column = table.c.email if kind == "email" else table.c.phone
        engine = sa.create_engine(self.url)
        try:
            compiled = index_expression(kind, column).compile(
                engine, compile_kwargs={"literal_binds": True}
            )
        finally:
            engine.dispose()
        return str(compiled).replace("contacts.", "")

    def create_indexes(self) -> None:
        engine = sa.create_engine(self.url)
        metadata = sa.MetaData()
        contacts = sa.Table("contacts", metadata, sa.Column("email"), sa.Column("phone"))
        try:
            with engine.begin() as connection:
                for kind in ("email", "phone"):
                    index = sa.Index(f"ix_engine_{kind}", index_expression(kind, contacts.c[kind]))
                    index.create(connection)
                connection.execute(sa.text(f"CREATE INDEX ix_dba_email ON contacts ({self.dba})"))
                connection.execute(sa.text("ANALYZE"))
        finally:
            engine.dispose()

    #: the index a DBA would make for the hand-written e-mail query
    dba = "lower(trim(email))"

    def drop(self) -> None:
        pass


class Sqlite(Backend):
    name = "sqlite"

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="discover-bench-"))
        self.path = self.directory / "contacts.sqlite"
        self.url = f"sqlite:///{self.path}"

    def build(self, count: int) -> None:
        connection = sqlite3.connect(self.path)
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute(
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, full_name TEXT, email TEXT, "
            "phone TEXT, city TEXT)"
        )
        connection.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)", contact_rows(count))
        connection.commit()
        connection.execute("ANALYZE")
        connection.close()

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def queries(self) -> dict[str, list[Query]]:
        select = "SELECT id, full_name, email, phone, city FROM contacts WHERE "
        digits = self.expression("phone")
        return {
            "email": [
                Query(
                    "lower(trim(email)) = ?", select + "lower(trim(email)) = ?", (SUBJECT_EMAIL,)
                ),
                Query(
                    "same expression",
                    select + self.expression("email") + " = ?",
                    (SUBJECT_EMAIL,),
                ),
            ],
            "phone": [Query("same digit stripping", select + digits + " = ?", (SUBJECT_NSN,))],
        }

    def drop(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class Postgres(Backend):
    name = "postgresql"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = sa.make_url(admin_url)
        self.database = f"discover_bench_{secrets.token_hex(4)}"
        self.url = self.admin_url.set(database=self.database).render_as_string(False)
        self._admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.database}"'))

    def _dsn(self) -> str:
        url = sa.make_url(self.url)
        parts = [f"host={url.host or '127.0.0.1'}", f"port={url.port or 5432}"]
        parts += [f"dbname={url.database}", f"user={url.username or 'postgres'}"]
        if url.password:
            parts.append(f"password={url.password}")
        return " ".join(parts)

    def build(self, count: int) -> None:
        import psycopg

        with psycopg.connect(self._dsn()) as connection:
            connection.execute(
                "CREATE TABLE contacts (id BIGINT PRIMARY KEY, full_name TEXT, email TEXT, "
                "phone TEXT, city TEXT)"
            )
            with connection.cursor().copy(
                "COPY contacts (id, full_name, email, phone, city) FROM STDIN"
            ) as copy:
                for row in contact_rows(count):
                    copy.write_row(row)
            connection.commit()
            connection.execute("ANALYZE contacts")
            connection.commit()

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._dsn(), autocommit=True)

    def queries(self) -> dict[str, list[Query]]:
        select = "SELECT id, full_name, email, phone, city FROM contacts WHERE "
        return {
            "email": [
                Query(
                    "lower(trim(email)) = %s",
                    select + "lower(trim(email)) = %s",
                    (SUBJECT_EMAIL,),
                ),
                Query(
                    "same expression",
                    select + self.expression("email") + " = %s",  # compiled for psycopg: % is %%
                    (SUBJECT_EMAIL,),
                ),
            ],
            "phone": [
                Query(
                    "same digit stripping",
                    select + self.expression("phone") + " = %s",
                    (SUBJECT_NSN,),
                )
            ],
        }

    def drop(self) -> None:
        with self._admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self._admin.dispose()


# -- timing ------------------------------------------------------------------------------


def _sources(backend: Backend, directory: Path) -> SourcesConfig:
    mapping = directory / f"{backend.name}.mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    document = {
        "version": 1,
        "settings": {"max_depth": 0},
        "sources": [
            {
                "name": backend.name,
                "kind": "sql",
                "mapping": str(mapping),
                "connection": {"url": backend.url},
            }
        ],
    }
    path = directory / f"{backend.name}.sources.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_sources(path, environ={})


@dataclass
class Measurement:
    backend: str
    search: str
    indexed: bool
    engine_ms: float
    baselines: list[tuple[str, float, int]]  # label, ms, rows
    rows_read: int
    matched: int


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure(backend: Backend, directory: Path, repeat: int, indexed: bool, profile: bool) -> list:
    sources = _sources(backend, directory)
    register = default_register()
    connectors = open_connectors(sources, load_mappings(sources, register), register)
    database = backend.connect()
    out: list[Measurement] = []
    try:
        for kind, value in (("email", SUBJECT_EMAIL.upper()), ("phone", "06-12345678")):
            request = build_request([(kind, value)], request_id=f"BENCH-{kind}")
            queries = backend.queries()[kind]

            def engine_run(request: Any = request) -> Any:
                return search(request, sources, connectors=connectors)

            def query_run(query: Query) -> list[Any]:
                cursor = database.cursor()
                cursor.execute(query.sql, query.params)
                rows = cursor.fetchall()
                cursor.close()
                return rows

            result = engine_run()  # warm: connect, check, compile
            for query in queries:
                query_run(query)
            engine_times: list[float] = []
            query_times: dict[str, list[float]] = {q.label: [] for q in queries}
            query_rows: dict[str, int] = {}
            for _ in range(repeat):  # interleaved, so that load from others hits both
                started = time.perf_counter()
                result = engine_run()
                engine_times.append(time.perf_counter() - started)
                for query in queries:
                    started = time.perf_counter()
                    rows = query_run(query)
                    query_times[query.label].append(time.perf_counter() - started)
                    query_rows[query.label] = len(rows)
            if profile:
                _profile(engine_run, f"{backend.name} {kind}{' indexed' if indexed else ''}")
            matched = len({(r["location"], r["record_key"]) for r in result.hits.to_pylist()})
            out.append(
                Measurement(
                    backend=backend.name,
                    search=kind,
                    indexed=indexed,
                    engine_ms=_median_ms(engine_times),
                    baselines=[
                        (q.label, _median_ms(query_times[q.label]), query_rows[q.label])
                        for q in queries
                    ],
                    rows_read=sum(s.rows_read for s in result.sources),
                    matched=matched,
                )
            )
    finally:
        database.close()
        for connector in connectors:
            connector.close()
    return out


def _profile(run: Callable[[], Any], title: str) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("(--profile needs pyinstrument: python3 -m pip install pyinstrument)")
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(5):
        run()
    profiler.stop()
    print(f"--- profile: {title} (5 searches) ---")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def report(measurements: list[Measurement], rows: int) -> None:
    print(f"\none-subject search, {rows:,} contacts; times are medians (ms)")
    header = (
        f"{'backend':<11}{'search':<7}{'index':<7}{'engine':>9}  {'baseline (hand-written)':<26}"
        f"{'db':>9}{'ratio':>7}  {'read':>5}{'matched':>8}{'read/matched':>13}"
    )
    print(header)
    print("-" * len(header))
    for m in measurements:
        for position, (label, db_ms, db_rows) in enumerate(m.baselines):
            ratio = m.engine_ms / db_ms if db_ms else float("inf")
            same = "" if db_rows == m.matched else f" (db found {db_rows})"
            lead = (
                f"{m.backend:<11}{m.search:<7}{'yes' if m.indexed else 'no':<7}{m.engine_ms:>9.2f}"
                if position == 0
                else " " * 34
            )
            tail = (
                f"{m.rows_read:>5}{m.matched:>8}{m.rows_read / max(m.matched, 1):>13.2f}"
                if position == 0
                else ""
            )
            print(f"{lead}  {label:<26}{db_ms:>9.2f}{ratio:>7.2f}  {tail}{same}")
    print(
        "\nratio = engine / database for the hand-written query (target < 3); "
        "read/matched = rows transferred per row matched (target < 2)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="contacts (default 1e6)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, 3 runs")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per query")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--no-index", action="store_true", help="skip the indexed round")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the engine")
    options = parser.parse_args(argv)
    rows = QUICK_ROWS if options.quick else options.rows
    repeat = 3 if options.quick else options.repeat
    names = [n.strip() for n in options.backends.split(",") if n.strip()]
    measurements: list[Measurement] = []
    work = Path(tempfile.mkdtemp(prefix="discover-bench-config-"))
    try:
        for name in names:
            backend: Backend = Sqlite() if name == "sqlite" else Postgres(PG_ADMIN)
            try:
                started = time.perf_counter()
                backend.build(rows)
                print(
                    f"{backend.name}: built {rows:,} rows in {time.perf_counter() - started:.1f} s"
                )
                measurements += measure(backend, work, repeat, False, options.profile)
                if not options.no_index:
                    started = time.perf_counter()
                    backend.create_indexes()
                    print(f"{backend.name}: indexes in {time.perf_counter() - started:.1f} s")
                    measurements += measure(backend, work, repeat, True, options.profile)
            finally:
                backend.drop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(measurements, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
