"""Benchmark: the VoIP provisioning connector on a large provisioning directory.

Builds N handsets (Yealink ``<mac>.cfg`` + a 20-entry ``<mac>-phonebook.xml`` each,
every fifth a Polycom registration file + directory instead; 50 clients, phonebooks
list colleagues of the same client) under a temporary directory, then prints, against
baselines measured in the same run:

* first scan (list, parse every file safely, build the index) as a ratio to the raw
  cost of reading every file and parsing it with defusedxml / splitting its lines;
* a batch of 10,000 identifiers against a single identifier, both on a fresh index;
* a repeated scan (files unchanged: the index is reused) against the first scan.

Run: ``python3 benchmarks/bench_voip.py`` (20,000 handsets) or ``--quick`` (2,000).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml
from defusedxml import ElementTree as SafeElementTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discover  # noqa: F401 - resolves the connectors/discover import order
from connectors import load_mapping
from connectors.voip.connector import VoipConnector
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import load_sources


def build(root: Path, handsets: int) -> None:
    for n in range(handsets):
        mac = f"001565{n:06x}"
        client = f"client{n % 50:02d}"
        directory = root / client
        directory.mkdir(exist_ok=True)
        ext = 200 + n // 50
        # a personal phonebook lists colleagues of the same client, so values repeat
        colleagues = [(n + 50 * (k + 1)) % handsets for k in range(20)]
        entries = [(f"Gebruiker {m}", f"{200 + m // 50}", f"06-{20000000 + m}") for m in colleagues]
        if n % 5:
            (directory / f"{mac}.cfg").write_text(
                "#!version:1.0.0.1\n"
                f"account.1.user_name = {ext}\naccount.1.display_name = Gebruiker {n}\n"
                f"account.1.password = secret-{n}\naccount.1.auth_name = {client}{ext}\n"
                f"remote_phonebook.data.1.url = http://prov/{client}/{mac}-phonebook.xml\n",
                encoding="utf-8",
            )
            body = "".join(
                f"<DirectoryEntry><Name>{name}</Name><Telephone>{e}</Telephone>"
                f"<Telephone>{m}</Telephone></DirectoryEntry>"
                for name, e, m in entries
            )
            (directory / f"{mac}-phonebook.xml").write_text(
                f"<YealinkIPPhoneDirectory>{body}</YealinkIPPhoneDirectory>", encoding="utf-8"
            )
        else:
            (directory / f"{mac}-registration.cfg").write_text(
                f'<polycomConfig reg.1.address="{ext}" reg.1.displayName="Gebruiker {n}"'
                f' reg.1.auth.password="secret-{n}"/>',
                encoding="utf-8",
            )
            body = "".join(f"<item><fn>{name}</fn><ct>{m}</ct></item>" for name, _e, m in entries)
            (directory / f"{mac}-directory.xml").write_text(
                f"<directory><item_list>{body}</item_list></directory>", encoding="utf-8"
            )


def baseline(root: Path) -> float:
    started = time.perf_counter()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data.lstrip().startswith(b"<"):
            SafeElementTree.fromstring(data)
        else:
            dict(line.partition("=")[::2] for line in data.decode().splitlines())
    return time.perf_counter() - started


def connector(root: Path, tmp: Path) -> VoipConnector:
    sources_path = tmp / "sources.yaml"
    sources_path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sources": [
                    {
                        "name": "provisioning",
                        "kind": "voip",
                        "mapping": "shipped:voip/provisioning.yaml",
                        "connection": {"directory": str(root)},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    sources = load_sources(sources_path)
    register = default_register()
    mapping = load_mapping(sources.sources[0].mapping_path, register).model
    return VoipConnector(sources.sources[0], mapping, register, sources.settings)


def timed(source: VoipConnector, identifiers: list[Identifier]) -> tuple[float, int]:
    started = time.perf_counter()
    result = source.scan(identifiers)
    return time.perf_counter() - started, len(result.records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 handsets")
    args = parser.parse_args()
    handsets = 2_000 if args.quick else 20_000
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root = tmp / "prov"
        root.mkdir()
        started = time.perf_counter()
        build(root, handsets)
        files = sum(1 for p in root.rglob("*") if p.is_file())
        print(f"{handsets} handsets, {files} files, built in {time.perf_counter() - started:.1f}s")

        raw = baseline(root)
        one = [Identifier("extension", "client07/207")]
        batch = [
            Identifier("extension", f"client{n % 50:02d}/{200 + n // 50}") for n in range(10_000)
        ]

        first, found_one = timed(connector(root, tmp), one)
        fresh = connector(root, tmp)
        many, found_many = timed(fresh, batch)
        again, _ = timed(fresh, batch)

        print(f"baseline (read + parse every file):        {raw:8.2f}s")
        print(f"first scan, 1 identifier:                  {first:8.2f}s  ratio {first / raw:5.2f}")
        print(
            f"first scan, 10,000 identifiers:            {many:8.2f}s  ratio to 1 identifier "
            f"{many / first:5.2f}  ({found_many} records, {found_one} for one)"
        )
        print(
            f"repeated scan, files unchanged (cached):   {again:8.2f}s  ratio {again / many:5.2f}"
        )


if __name__ == "__main__":
    main()
