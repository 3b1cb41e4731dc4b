"""Benchmark: a one-subject directory search against a hand-written ldap3 search.

Builds a directory of N inetOrgPerson entries (default 100,000; people in 20 OUs,
phones in mixed formats, two mail values each, 1 group per 50 people), loads it
offline with ``slapadd`` into a throwaway Debian slapd (tests/support/slapd.py),
then times, warm, on one bound connection reused for every run (the connector's
own policy), the median of ``--repeat`` runs of:

* **baseline**: a hand-written ldap3 search for the subject's entry,
  ``(&(objectClass=inetOrgPerson)(mail=<address>))`` under the base, asking for the
  same attributes the mapping reads, reading every value;
* **connector**: ``LdapConnector.scan`` with the shipped inetOrgPerson mapping
  without its group relations (the same single search, plus escaping, paging
  control, decoding, verification after normalisation, records);
* **connector + groups**: the shipped mapping as it is (one more search for the
  groups whose member/uniqueMember holds the entry's DN), against a hand-written
  pair of searches doing the same;
* **engine**: ``search_many`` for the one subject with ``max_depth 0`` (the scan plus
  distribution, classification and the Arrow hits table), against the baseline.

Target: connector / baseline under 2. ``--quick`` uses 5,000 entries.

    python3 benchmarks/bench_ldap.py [--quick] [--entries N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ldap3 import SIMPLE, SUBTREE, Connection, Server
from ldap3.utils.conv import escape_filter_chars

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the packages first: tests/connectors must not shadow them
sys.path.append(str(ROOT / "tests"))

from support.slapd import Slapd, missing  # noqa: E402

from connectors import load_mapping  # noqa: E402
from connectors.directory.ldap import LdapConnector  # noqa: E402
from discover.config import shipped_path  # noqa: E402
from discover.engine import search_many  # noqa: E402
from discover.identifiers import Identifier  # noqa: E402
from discover.register import default_register  # noqa: E402
from discover.request import build_request  # noqa: E402
from discover.sources import Settings, SourceConfig, SourcesConfig  # noqa: E402

SUFFIX = "dc=bench,dc=example"
OUS = 20
INDEXES = [
    "objectClass eq",
    "mail,uid,cn,displayName,employeeNumber eq",
    "telephoneNumber,mobile,homePhone,pager eq",
    "member,uniqueMember eq",
    "entryUUID eq",
]


def person(n: int) -> str:
    ou = f"ou=unit{n % OUS:02d},ou=people,{SUFFIX}"
    national = f"{10 + n % 80:02d}{n:07d}"  # 0XX-NNNNNNN style numbers
    phone = [f"0{national[:2]}-{national[2:]}", f"+31 {national[:2]} {national[2:]}"][n % 2]
    return (
        f"dn: uid=user{n},{ou}\n"
        "objectClass: inetOrgPerson\n"
        f"uid: user{n}\ncn: Person {n}\nsn: Person{n}\ngivenName: Given{n}\n"
        f"mail: User{n}@Bench.Example\nmail: u{n}@alias.bench.example\n"
        f"telephoneNumber: {phone}\nmobile: 06-{n % 100000000:08d}\n"
        f"employeeNumber: {n}\ntitle: Employee\n"
        f"userPassword: secret{n}\n\n"
    )


def build_ldif(path: Path, entries: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
            "o: Bench\ndc: bench\n\n"
        )
        out.write(f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n")
        out.write(f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n")
        for unit in range(OUS):
            out.write(
                f"dn: ou=unit{unit:02d},ou=people,{SUFFIX}\n"
                f"objectClass: organizationalUnit\nou: unit{unit:02d}\n\n"
            )
        for n in range(entries):
            out.write(person(n))
        for group in range(0, entries, 50):
            members = "".join(
                f"member: uid=user{n},ou=unit{n % OUS:02d},ou=people,{SUFFIX}\n"
                for n in range(group, min(group + 50, entries))
            )
            out.write(f"dn: cn=team{group},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\n")
            out.write(f"cn: team{group}\n{members}\n")


def median_of(repeat: int, run: Callable[[], Any]) -> float:
    run()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def connector_for(server: Slapd, mapping: Path) -> LdapConnector:
    register = default_register()
    loaded = load_mapping(mapping, register, expected_kind="ldap")
    source = SourceConfig(
        name="directory",
        kind="ldap",
        mapping_path=mapping,
        connection={
            "url": server.url,
            "base_dn": SUFFIX,
            "bind_dn": server.rootdn,
            "password": server.rootpw,
        },
    )
    return LdapConnector(source, loaded.model, register, Settings(max_depth=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 entries")
    parser.add_argument("--entries", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=31)
    args = parser.parse_args()
    entries = args.entries or (5_000 if args.quick else 100_000)
    reason = missing()
    if reason:
        sys.exit(f"slapd is needed: {reason}")

    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        root = Path(tmp)
        ldif = root / "directory.ldif"
        started = time.perf_counter()
        build_ldif(ldif, entries)
        server = Slapd(root / "slapd", suffix=SUFFIX, indexes=INDEXES, max_size=4 << 30)
        server.slapadd(ldif)
        loaded = time.perf_counter() - started
        server.start()
        try:
            run(server, root, entries, args.repeat, loaded)
        finally:
            server.stop()


def run(server: Slapd, root: Path, entries: int, repeat: int, loaded: float) -> None:
    subject = entries * 54321 // 100000
    raw_email = f"user{subject}@bench.example"
    identifier = Identifier.parse("email", raw_email.upper())
    shipped = shipped_path("directory", "inetorgperson.yaml")
    document = yaml.safe_load(shipped.read_text())
    document.pop("relations")
    people_only = root / "people-only.yaml"
    people_only.write_text(yaml.safe_dump(document))

    plain = connector_for(server, people_only)
    groups = connector_for(server, shipped)
    plain.check()
    groups.check()
    attributes = plain.mapping.entries["people"].requested()

    connection = Connection(
        Server("127.0.0.1", port=server.port),
        user=server.rootdn,
        password=server.rootpw,
        authentication=SIMPLE,
        auto_bind=True,
        read_only=True,
    )

    def baseline() -> list[Any]:
        connection.search(
            SUFFIX,
            f"(&(objectClass=inetOrgPerson)(mail={escape_filter_chars(raw_email)}))",
            SUBTREE,
            attributes=attributes,
        )
        found = [(e["dn"], e["raw_attributes"]) for e in connection.response]
        assert len(found) == 1, found
        return found

    def baseline_with_groups() -> list[Any]:
        (dn, _attrs), *_ = baseline()
        escaped = escape_filter_chars(dn)
        connection.search(
            SUFFIX,
            f"(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
            f"(|(member={escaped})(uniqueMember={escaped})))",
            SUBTREE,
            attributes=["cn", "description", "ou", "owner", "member", "uniqueMember"],
        )
        return [(e["dn"], e["raw_attributes"]) for e in connection.response]

    def scan_plain() -> None:
        result = plain.scan([identifier])
        assert len(result.records) == 1 and result.records[0].matches

    def scan_groups() -> None:
        result = groups.scan([identifier])
        assert len(result.records) == 2

    request = build_request([("email", raw_email.upper())], request_id="REQ-BENCH-0001")
    sources = SourcesConfig(path=root / "sources.yaml", sources=(), settings=Settings(max_depth=0))

    def engine() -> None:
        (result,) = search_many([request], sources, connectors=[plain])
        assert result.hits.num_rows > 10

    times = {
        "baseline": median_of(repeat, baseline),
        "connector": median_of(repeat, scan_plain),
        "baseline + groups": median_of(repeat, baseline_with_groups),
        "connector + groups": median_of(repeat, scan_groups),
        "engine (max_depth 0)": median_of(repeat, engine),
    }
    rows_read = plain.scan([identifier]).rows_read
    connection.unbind()
    plain.close()
    groups.close()

    print(
        f"directory: {entries:,} entries (slapadd + LDIF build {loaded:.1f} s), warm, "
        f"one bound connection reused, median of {repeat} runs"
    )
    print(f"subject: {identifier} (stored as User{subject}@Bench.Example + an alias)")
    print(f"{'measure':<24}{'median ms':>12}{'ratio':>10}")
    pairs = [
        ("baseline", "baseline"),
        ("connector", "baseline"),
        ("baseline + groups", "baseline + groups"),
        ("connector + groups", "baseline + groups"),
        ("engine (max_depth 0)", "baseline"),
    ]
    for name, against in pairs:
        ratio = times[name] / times[against]
        print(f"{name:<24}{times[name] * 1000:>12.2f}{ratio:>10.2f}")
    print(f"entries transferred by the connector's search: {rows_read} (matched: 1)")
    verdict = "met" if times["connector"] / times["baseline"] < 2 else "NOT met"
    print(f"target connector / baseline < 2: {verdict}")


if __name__ == "__main__":
    main()
