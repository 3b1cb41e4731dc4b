"""One subject on a provider-sized estate, every source cold and warm, against hand lookups.

Builds (``--scale 1``) 100,000 people in the CRM (SQLite), 5,000,000 call-detail
records in SQLite and the same records in a fresh PostgreSQL database (dropped at
the end), an LDIF export with an entry per person plus groups (~100,000 entries),
a provisioning directory with a Yealink configuration and a 20-entry phonebook per
handset and a client phonebook (``phonebook.xml``, the same name in every client
directory) that all of a client's handsets load (~62,500 files), a SIM inventory
(CSV, and the same rows as an XLSX workbook) and roaming and bundle notification
logs (CSV, ~10 and ~3 rows per person). The call
records have no index on their number columns, as in the estate this was measured on.

Then, for one subject searched by e-mail (``discover search --email …``, identity
expansion on: the e-mail finds the mobile number, the number finds the call records),
it prints per source and in total:

* the best hand-written lookup for what the search reads: the SQL a DBA writes with
  the subject's stored spellings (``calling_number IN (…) OR called_number IN (…)``,
  ``lower(email) = …``), one pass over the LDIF text and over the provisioning files
  looking for the subject's spellings, a polars filter of the inventory;
* the cold search (a fresh cache: column profiles learnt) and the warm search (the
  same command again), each a ``discover search`` child process, so interpreter start
  is included (printed separately);
* their ratios to the hand-written lookups, and the peak memory of every search (the
  child's own VmHWM, written by the child when it exits);
* the whole warm search ``--repeat`` more times, each right after its own
  call-record lookup, and the median and range of those ratios;
* for SQL sources also the search without column profiles (``connection.profile:
  false``: the normalising predicate, as before profiles existed);
* for the call records, the SQL alone: the statements the warm search sends for the
  ``cdr`` table replayed against the hand-written statement on one open connection
  (``sql_replay.py``), without and with a plain index on the number columns.

    python3 benchmarks/bench_estate.py                  # the full estate (~10 min to build)
    python3 benchmarks/bench_estate.py --scale 0.02     # 2,000 people, 100,000 calls
    python3 benchmarks/bench_estate.py --keep /tmp/estate   # keep (and reuse) the files
    python3 benchmarks/bench_estate.py --keep /tmp/estate --only telephony,telephony-pg,index
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))  # test-data generators

from support import synthetic_estate as synthetic

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "DISCOVER_BENCH_PG",
    os.environ.get("DISCOVER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
SUFFIX = "dc=bench,dc=example"
#: measured on their own, left out of the whole search: the same data as another source
ONLY_ALONE = ("telephony-pg", "inventory")
PHONEBOOK = 20


@dataclass(frozen=True)
class Sizes:
    people: int
    cdrs: int
    handsets: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        return cls(
            people=max(200, int(100_000 * scale)),
            cdrs=max(2_000, int(5_000_000 * scale)),
            handsets=max(100, int(30_000 * scale)),
        )


# -- the estate --------------------------------------------------------------------------


def build_ldif(path: Path, people: int) -> None:
    """An inetOrgPerson entry per person (e-mail as the CRM spells it, mobile, desk)."""
    with path.open("w", encoding="utf-8") as out:
        out.write(f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n")
        out.write("o: Bench\ndc: bench\n\n")
        out.write(f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n")
        out.write(f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n")
        for index in range(people):
            person = synthetic.person(index)
            mobile = "0" + person.mobile[3:]
            out.write(
                f"dn: uid=u{index},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\n"
                f"uid: u{index}\ncn: {person.name}\nsn: {person.name.split()[-1]}\n"
                f"mail: {person.email}\nmobile: {mobile[:2]}-{mobile[2:]}\n"
                f"telephoneNumber: {person.desk}\nemployeeNumber: {index}\n"
                f"userPassword: secret{index}\n\n"
            )
        for group in range(0, people, 50):
            members = "".join(
                f"member: uid=u{n},ou=people,{SUFFIX}\n"
                for n in range(group, min(group + 50, people))
            )
            out.write(f"dn: cn=team{group},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\n")
            out.write(f"cn: team{group}\n{members}\n")


def build_provisioning(root: Path, handsets: int, people: int) -> None:
    """Per handset a Yealink configuration and its own 20-entry phonebook; per client a
    ``phonebook.xml`` of all its people, which every handset of the client loads as its
    second phonebook (the same file name in every client directory). Handset n is
    person n's."""
    clients: dict[str, list[str]] = {}
    for n in range(people):
        person = synthetic.person(n)
        entry = (
            f"<DirectoryEntry><Name>{person.name}</Name>"
            f"<Telephone>0{person.mobile[3:]}</Telephone></DirectoryEntry>"
        )
        clients.setdefault(f"org{person.organisation}", []).append(entry)
    for n in range(handsets):
        person = synthetic.person(n % people)
        mac = f"001565{n:06x}"
        client = f"org{person.organisation}"
        directory = root / client
        directory.mkdir(parents=True, exist_ok=True)
        ext = 200 + n % 100
        (directory / f"{mac}.cfg").write_text(
            "#!version:1.0.0.1\n"
            f"account.1.user_name = {ext}\naccount.1.display_name = {person.name}\n"
            f"account.1.password = secret-{n}\naccount.1.auth_name = {client}{ext}\n"
            f"remote_phonebook.data.1.url = http://prov/{client}/{mac}-phonebook.xml\n"
            f"remote_phonebook.data.2.url = http://prov/{client}/phonebook.xml\n",
            encoding="utf-8",
        )
        colleagues = [synthetic.person((n + 7 * (k + 1)) % people) for k in range(PHONEBOOK)]
        body = "".join(
            f"<DirectoryEntry><Name>{c.name}</Name>"
            f"<Telephone>0{c.mobile[3:]}</Telephone></DirectoryEntry>"
            for c in colleagues
        )
        (directory / f"{mac}-phonebook.xml").write_text(
            f"<YealinkIPPhoneDirectory>{body}</YealinkIPPhoneDirectory>", encoding="utf-8"
        )
    for client, entries in clients.items():
        if (root / client).is_dir():
            (root / client / "phonebook.xml").write_text(
                f"<YealinkIPPhoneDirectory>{''.join(entries)}</YealinkIPPhoneDirectory>",
                encoding="utf-8",
            )


def build_notifications(estate: Path, people: int) -> None:
    """Roaming (10 rows per person) and bundle (3 per person) logs, MSISDNs spelt variously."""
    import csv

    with (estate / "roaming.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Bericht-ID", "Verzonden", "MSISDN", "IMSI", "IMEI", "Land", "Bericht"])
        for index in range(people * 10):
            owner = synthetic.person(index % people)
            national = "0" + owner.mobile[3:]
            number = (owner.mobile[1:], national, f"+31 {national[1:]}")[index % 3]
            writer.writerow(
                [f"R{index}", f"2026-{index % 12 + 1:02d}-01 08:00", number, "", "", "BE",
                 "Welkom in Belgie"]
            )  # fmt: skip
    with (estate / "bundles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Bericht-ID", "Verzonden", "MSISDN", "Bundel", "Verbruik", "Bericht"])
        for index in range(people * 3):
            owner = synthetic.person(index % people)
            writer.writerow(
                [f"B{index}", "2026-03-01", "0" + owner.mobile[3:], "5 GB", "80",
                 "U heeft 80% van uw bundel verbruikt"]
            )  # fmt: skip


def build_workbook(estate: Path) -> None:
    """The SIM inventory again, as the XLSX workbook the mobile team keeps."""
    import polars as pl

    frame = pl.read_csv(estate / "inventory.csv", infer_schema=False)
    frame.write_excel(estate / "inventory.xlsx", worksheet="SIMs", autofit=False)


def copy_to_postgres(sqlite_path: Path, database: str) -> str:
    """The telephony tables in a fresh PostgreSQL database, rows copied with COPY."""
    import psycopg
    import sqlalchemy as sa

    from discover.demo.databases import telephony_metadata

    admin = sa.make_url(PG_ADMIN).set(drivername="postgresql+psycopg")
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(False)) as conn:
        conn.autocommit = True
        conn.execute(f'CREATE DATABASE "{database}"')
    url = admin.set(database=database)
    engine = sa.create_engine(url)
    telephony_metadata().create_all(engine)
    engine.dispose()
    source = sqlite3.connect(sqlite_path)
    target_url = url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(target_url) as conn:
        for table in ("cdr", "retained_traffic", "user_recordings"):
            cursor = source.execute(f"SELECT * FROM {table}")
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                while rows := cursor.fetchmany(50_000):
                    for row in rows:
                        copy.write_row(row)
    # a table that has lived sets its rows' hint bits and visibility map long before a
    # search: without VACUUM the first statement to read the freshly copied table (a
    # cold search's learning) pays for writing them, and the next one does not
    with psycopg.connect(target_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    source.close()
    return url.render_as_string(False)


def add_indexes(root: Path, sources: dict[str, Any]) -> None:
    """Plain B-tree indexes on the call records' number columns (SQLite and PostgreSQL)."""
    statements = [
        "CREATE INDEX IF NOT EXISTS ix_cdr_calling ON cdr (calling_number)",
        "CREATE INDEX IF NOT EXISTS ix_cdr_called ON cdr (called_number)",
    ]
    with sqlite3.connect(root / "estate" / "telephony.sqlite") as conn:
        for statement in statements:
            conn.execute(statement)
        conn.execute("ANALYZE")
    if "telephony-pg" in sources:
        import psycopg

        url = re.sub(
            r"^postgresql\+psycopg", "postgresql", sources["telephony-pg"]["connection"]["url"]
        )
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.execute("ANALYZE cdr")


def drop_indexes(root: Path) -> None:
    with sqlite3.connect(root / "estate" / "telephony.sqlite") as conn:
        conn.execute("DROP INDEX IF EXISTS ix_cdr_calling")
        conn.execute("DROP INDEX IF EXISTS ix_cdr_called")


def drop_postgres(database: str) -> None:
    import psycopg
    import sqlalchemy as sa

    admin = sa.make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def build(root: Path, sizes: Sizes, pg_database: str | None) -> dict[str, dict[str, Any]]:
    """The estate under ``root``; returns the sources (name -> sources-file entry)."""
    started = time.perf_counter()
    estate = root / "estate"
    if not (estate / "telephony.sqlite").exists():
        synthetic.build(
            root, synthetic.Sizes(people=sizes.people, cdrs=sizes.cdrs, inventory=sizes.people)
        )
        build_ldif(estate / "directory.ldif", sizes.people)
        build_provisioning(estate / "provisioning", sizes.handsets, sizes.people)
    if not (estate / "provisioning" / "org0" / "phonebook.xml").exists():  # an older estate
        shutil.rmtree(estate / "provisioning", ignore_errors=True)
        build_provisioning(estate / "provisioning", sizes.handsets, sizes.people)
    if not (estate / "roaming.csv").exists():
        build_notifications(estate, sizes.people)
    if not (estate / "inventory.xlsx").exists():
        build_workbook(estate)
    drop_indexes(root)  # a kept estate starts without them again
    document = yaml.safe_load((root / "sources.yaml").read_text(encoding="utf-8"))
    sources = {entry["name"]: entry for entry in document["sources"]}
    sources["directory"] = {
        "name": "directory",
        "kind": "ldif",
        "mapping": "shipped:directory/inetorgperson.yaml",
        "connection": {"path": "estate/directory.ldif"},
    }
    sources["provisioning"] = {
        "name": "provisioning",
        "kind": "voip",
        "mapping": "shipped:voip/provisioning.yaml",
        "connection": {"directory": "estate/provisioning"},
    }
    sources["inventory-xlsx"] = {
        **sources["inventory"],
        "name": "inventory-xlsx",
        "connection": {"path": "estate/inventory.xlsx"},
    }
    for name, mapping in (
        ("roaming", "roaming-notifications"),
        ("bundles", "bundle-notifications"),
    ):
        sources[name] = {
            "name": name,
            "kind": "tabular",
            "mapping": f"shipped:mobile/{mapping}.yaml",
            "connection": {"path": f"estate/{name}.csv"},
        }
    if pg_database:
        url = copy_to_postgres(estate / "telephony.sqlite", pg_database)
        sources["telephony-pg"] = {
            "name": "telephony-pg",
            "kind": "sql",
            "mapping": "shipped:demo/telephony.yaml",
            "connection": {"url": url},
        }
    print(f"estate built in {time.perf_counter() - started:.0f} s", flush=True)
    return sources


# -- hand-written lookups ------------------------------------------------------------------


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def warm_pairs(
    repeat: int, lookup: Callable[[], Any], whole: Callable[[], Run]
) -> list[tuple[float, Run]]:
    """``repeat`` times the hand-written lookup, then the warm whole search: each ratio
    is taken between two runs measured at the same moment of a shared machine."""
    pairs = []
    for _ in range(repeat):
        started = time.perf_counter()
        lookup()
        pairs.append((time.perf_counter() - started, whole()))
    return pairs


def hand_written(root: Path, sources: dict[str, Any], index: int) -> dict[str, Callable[[], Any]]:
    """Per source, what a person who knows the data would run for this subject."""
    person = synthetic.person(index)
    switch = person.mobile[1:]  # 316…, as the call records store it
    national = "0" + person.mobile[3:]
    estate = root / "estate"
    lookups: dict[str, Callable[[], Any]] = {}

    def crm() -> Any:
        with sqlite3.connect(estate / "crm.sqlite") as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM contacts WHERE lower(trim(email)) = ?", (person.email,)
            )]  # fmt: skip
            return ids

    def telephony_sqlite() -> Any:
        with sqlite3.connect(estate / "telephony.sqlite") as conn:
            return conn.execute(
                "SELECT * FROM cdr WHERE calling_number IN (?) OR called_number IN (?)",
                (switch, switch),
            ).fetchall()

    numbers = [switch, person.desk[1:]]  # the mobile and the direct line the CRM holds

    def every_number() -> Any:
        """The call records of every number the whole search finds for the subject."""
        with sqlite3.connect(estate / "telephony.sqlite") as conn:
            return conn.execute(
                "SELECT * FROM cdr WHERE calling_number IN (?, ?) OR called_number IN (?, ?)",
                (*numbers, *numbers),
            ).fetchall()

    lookups["crm"] = crm
    lookups["telephony"] = telephony_sqlite
    lookups["telephony, every number"] = every_number
    if "telephony-pg" in sources:
        import psycopg

        url = re.sub(
            r"^postgresql\+psycopg", "postgresql", sources["telephony-pg"]["connection"]["url"]
        )

        def telephony_pg() -> Any:
            with psycopg.connect(url) as conn:
                return conn.execute(
                    "SELECT * FROM cdr WHERE calling_number IN (%s) OR called_number IN (%s)",
                    (switch, switch),
                ).fetchall()

        lookups["telephony-pg"] = telephony_pg
    spellings = [person.email.encode(), national[:2].encode() + b"-" + national[2:].encode()]

    def directory() -> Any:
        text = (estate / "directory.ldif").read_bytes().lower()
        return [text.count(s.lower()) for s in spellings]

    phonebook = national.encode()

    def provisioning() -> Any:
        found = 0
        for path in (estate / "provisioning").rglob("*"):
            if path.is_file() and phonebook in path.read_bytes():
                found += 1
        return found

    lookups["directory"] = directory
    lookups["provisioning"] = provisioning
    if "inventory" in sources:
        import polars as pl

        def inventory() -> Any:
            frame = pl.scan_csv(estate / "inventory.csv", infer_schema=False)
            return frame.filter(pl.col("E-mail").str.to_lowercase() == person.email).collect()

        lookups["inventory"] = inventory

        def workbook() -> Any:
            frame = pl.read_excel(estate / "inventory.xlsx", engine="calamine")
            return frame.filter(pl.col("E-mail").str.to_lowercase() == person.email)

        lookups["inventory-xlsx"] = workbook
        spellings_of_mobile = [switch, national, f"+31 {national[1:]}"]

        def roaming() -> Any:
            frame = pl.scan_csv(estate / "roaming.csv", separator=";", infer_schema=False)
            return frame.filter(pl.col("MSISDN").is_in(spellings_of_mobile)).collect()

        def bundles() -> Any:
            frame = pl.scan_csv(estate / "bundles.csv", infer_schema=False)
            return frame.filter(pl.col("MSISDN").is_in(spellings_of_mobile)).collect()

        lookups["roaming"] = roaming
        lookups["bundles"] = bundles
    return lookups


# -- searches -----------------------------------------------------------------------------


def write_sources(path: Path, entries: list[dict[str, Any]]) -> Path:
    document = {"version": 1, "settings": {"max_depth": 3, "max_holders": 3}, "sources": entries}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds, peak memory, exit code, its stdout."""

    seconds: float
    peak_mb: int
    code: int
    output: str = ""

    @property
    def search_seconds(self) -> float:
        """The search itself, from the case summary (no interpreter start, no case writing)."""
        try:
            summary = json.loads(self.output)
        except ValueError:
            return float("nan")
        started = datetime.fromisoformat(summary["started_at"])
        return (datetime.fromisoformat(summary["finished_at"]) - started).total_seconds()


#: run first in a child: at exit it writes its own peak resident memory (VmHWM, in kB)
#: to the file $BENCH_PEAK_FILE. The child's rusage cannot be used: on Linux a child
#: created by fork starts its maximum RSS from its parent's (this benchmark's, which
#: holds the hand-written lookups' data).
PEAK_AT_EXIT = (
    "import atexit, os, re\n"
    "def _peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    with open(os.environ['BENCH_PEAK_FILE'], 'w') as out:\n"
    "        out.write(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n"
    "atexit.register(_peak)\n"
)


#: the hand-written call-record statement per source, in the driver's parameter style
HAND_SQL = {
    "telephony": "SELECT * FROM cdr WHERE calling_number IN (?) OR called_number IN (?)",
    "telephony-pg": "SELECT * FROM cdr WHERE calling_number IN (%s) OR called_number IN (%s)",
}


def sql_alone(root: Path, label: str, entry: dict[str, Any], index: int, repeat: int) -> None:
    """Print the call-record statements of a warm search against the hand-written one
    (``sql_replay.py``, in a child: the search's cache from ``measure(label)``)."""
    person = synthetic.person(index)
    switch = person.mobile[1:]
    sources_file = write_sources(root / f"sources-{label}-sql.yaml", [entry])
    env = {**os.environ, "DISCOVER_CACHE_DIR": str(root / "cache" / label), "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, str(ROOT / "benchmarks" / "sql_replay.py"), "--sources", str(sources_file),
        "--table", "cdr", "--email", person.email, "--phone", person.mobile,
        "--hand", HAND_SQL[entry["name"]], "--hand-params", json.dumps([switch, switch]),
        "--repeat", str(repeat),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"{label + ', SQL alone':<28}failed: {done.stderr.strip()[-300:]}", flush=True)
        return
    figures = json.loads(done.stdout)
    print(
        f"{label + ', SQL alone':<28}{figures['hand_seconds']:>11.4f}s | the search's "
        f"{len(figures['statements'])} statements on cdr, replayed: "
        f"{figures['search_seconds']:.4f}s | ratio {figures['ratio']:.2f}",
        flush=True,
    )


def run_child(arguments: list[str], env: dict[str, str]) -> Run:
    """Run a child process; its peak resident memory is what it wrote at exit."""
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile() as errors,
        tempfile.TemporaryFile() as output,
        tempfile.NamedTemporaryFile() as peak,
    ):
        env = {**env, "BENCH_PEAK_FILE": peak.name}
        process = subprocess.Popen(arguments, env=env, stdout=output, stderr=errors)
        _, status, _usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        peak_kb = int(Path(peak.name).read_text() or 0)
        if code not in (0, 1):
            errors.seek(0)
            print(errors.read().decode(errors="replace")[-2000:], file=sys.stderr)
        output.seek(0)
        text = output.read().decode(errors="replace")
    return Run(seconds, peak_kb // 1024, code, text)


def search(sources_file: Path, subject: list[str], cache: Path, case: Path) -> Run:
    env = {**os.environ, "DISCOVER_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    shutil.rmtree(case, ignore_errors=True)
    command = [
        sys.executable,
        "-c",
        PEAK_AT_EXIT + "from discover.cli import main; main()",
        "search",
        "--sources",
        str(sources_file),
        *subject,
        "--case",
        str(case),
        "--json",
    ]
    return run_child(command, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 100,000 people, 5M calls")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the estate here")
    parser.add_argument("--repeat", type=int, default=3, help="hand-written lookups: best of N")
    parser.add_argument(
        "--only", help="comma-separated sources to measure (and 'total', 'index'); default all"
    )
    args = parser.parse_args()
    sizes = Sizes.at(args.scale)
    print(
        f"estate: {sizes.people:,} people, {sizes.cdrs:,} call records, "
        f"{sizes.people:,} directory entries, {2 * sizes.handsets:,} provisioning files"
        " and a client phonebook per client",
        flush=True,
    )
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-estate-"))
    pg_database = None if args.no_postgres else f"bench_estate_{secrets.token_hex(4)}"
    try:
        sources = build(root, sizes, pg_database)
        index = sizes.handsets // 2 + 1  # a subject with a handset, in phonebooks
        email = synthetic.person(index).email
        lookups = hand_written(root, sources, index)
        start = min(
            (
                run_child(
                    [sys.executable, "-c", PEAK_AT_EXIT + "import discover.cli, discover.engine"],
                    {**os.environ, "PYTHONPATH": str(ROOT)},
                )
                for _ in range(3)
            ),
            key=lambda run: run.seconds,
        )
        print(f"interpreter start with discover's imports: {start.seconds:.2f} s\n")
        print(
            f"{'source':<28}hand-written | cold: process  search | warm: process  search"
            " | warm search/hand | peak MB cold/warm"
        )

        def measure(label: str, entries: list[dict[str, Any]], hand: float) -> Run:
            # one source: the identifiers it is searched by; everything: the e-mail
            # alone, the rest found by identity expansion
            subject = ["--email", email]
            if len(entries) == 1:
                subject += ["--phone", synthetic.person(index).mobile]
            sources_file = write_sources(root / f"sources-{label}.yaml", entries)
            cache = root / "cache" / label
            shutil.rmtree(cache, ignore_errors=True)
            cold = search(sources_file, subject, cache, root / "case")
            warm = search(sources_file, subject, cache, root / "case")
            failed = "" if cold.code in (0, 1) else f"  exit {cold.code}"
            print(
                f"{label:<28}{hand:>11.3f}s | {cold.seconds:>12.2f}s {cold.search_seconds:>6.2f}s"
                f" | {warm.seconds:>12.2f}s {warm.search_seconds:>6.2f}s"
                f" | {warm.search_seconds / hand:>16.1f} | {cold.peak_mb:>8}/{warm.peak_mb:<5}"
                + failed,
                flush=True,
            )
            return warm

        only = set(args.only.split(",")) if args.only else None
        searched = [name for name in sources if name in lookups]
        hands = {name: best_of(args.repeat, lookups[name]) for name in lookups}
        for name in searched:
            if only is None or name in only:
                measure(name, [sources[name]], hands[name])
                if name in HAND_SQL:
                    sql_alone(root, name, sources[name], index, args.repeat)
                if sources[name]["kind"] == "sql":  # as before column profiles
                    plain = {**sources[name], "connection": {**sources[name]["connection"]}}
                    plain["connection"]["profile"] = False
                    measure(f"{name} (no profile)", [plain], hands[name])
        if only is None or "total" in only:
            # the estate once: SQLite call records, the inventory as its workbook
            whole = [name for name in searched if name not in ONLY_ALONE]
            warm = measure("total", [sources[name] for name in whole], sum(hands[n] for n in whole))
            every = hands["telephony, every number"]
            print(
                f"\nwhole search, warm, process wall time / hand-written call-record lookup of "
                f"the subject's numbers (mobile and direct line): {warm.seconds / every:.1f} "
                f"({warm.seconds:.2f} s against {every:.3f} s); of the mobile alone: "
                f"{warm.seconds / hands['telephony']:.1f} ({hands['telephony']:.3f} s); "
                f"peak {warm.peak_mb} MB",
                flush=True,
            )
            pairs = warm_pairs(
                args.repeat,
                lookups["telephony, every number"],
                lambda: search(
                    root / "sources-total.yaml",
                    ["--email", email],
                    root / "cache" / "total",
                    root / "case",
                ),
            )
            ratios = sorted(run.seconds / hand for hand, run in pairs)
            print(
                f"the same, {len(pairs)} more times, each search right after its own lookup: "
                f"ratio median {statistics.median(ratios):.1f} "
                f"({ratios[0]:.1f}–{ratios[-1]:.1f}); search "
                + ", ".join(f"{run.seconds:.2f}" for _hand, run in pairs)
                + " s; lookup "
                + ", ".join(f"{hand:.3f}" for hand, _run in pairs)
                + f" s; peak at most {max(run.peak_mb for _hand, run in pairs)} MB",
                flush=True,
            )
        if only is not None and "index" not in only:
            return
        add_indexes(root, sources)
        for name in ("telephony", "telephony-pg"):
            if name in sources:
                measure(f"{name} +index", [sources[name]], best_of(args.repeat, lookups[name]))
                sql_alone(root, f"{name} +index", sources[name], index, args.repeat)
    finally:
        if pg_database:
            drop_postgres(pg_database)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
