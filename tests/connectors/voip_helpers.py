"""Shared helpers of the VoIP connector tests: run a real search, group hits by record."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from discover.engine import SearchResult, search
from discover.request import build_request
from discover.sources import load_sources

FIXTURES = Path(__file__).parent / "fixtures" / "voip"
PROVISIONING = FIXTURES / "provisioning"
HOSTILE = FIXTURES / "hostile"

#: Every password in the provisioning fixtures: none may ever reach a hit.
FIXTURE_SECRETS = (
    "Prov-Secret-Acme-7731",
    "Adm-Secret-Yl-0001",
    "Sip-Secret-Jan-201",
    "Sip-Secret-Zoe-202",
    "Prov-Secret-Poly-4410",
    "Prov-Secret-Spa-5510",
    "Adm-Secret-Spa-0003",
    "Usr-Secret-Spa-0003",
    "Sip-Secret-Pieter-203",
    "Adm-Secret-Gs-0004",
    "Usr-Secret-Gs-0004",
    "Sip-Secret-Fatima-204",
    "Prov-Secret-Snom-0010",
    "Adm-Secret-Snom-0010",
    "Sip-Secret-Bakkerij-10",
)


def masked(relpath: str) -> str:
    """Where a phonebook entry found by the subject's own identifier is reported."""
    client, _, _ = relpath.partition("/")
    token = hashlib.sha256(relpath.encode("utf-8")).hexdigest()[:12]
    return f"{client}/phonebook-{token}"


def sources_file(
    tmp_path: Path,
    directory: Path,
    *,
    mapping: str = "shipped:voip/provisioning.yaml",
    extra: list[dict[str, Any]] | None = None,
    connection: dict[str, Any] | None = None,
    client: str | None = None,
) -> Path:
    """A sources file with the provisioning directory (and any extra sources)."""
    source: dict[str, Any] = {
        "name": "provisioning",
        "kind": "voip",
        "mapping": mapping,
        "connection": {"directory": str(directory), **(connection or {})},
    }
    if client:
        source["client"] = client
    document = {
        "version": 1,
        "settings": {"max_depth": 3, "max_holders": 3},
        "sources": [source, *(extra or [])],
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def run(sources: Path, *identifiers: tuple[str, str]) -> SearchResult:
    return search(build_request(list(identifiers)), load_sources(sources))


def by_record(hits: pa.Table, source: str = "provisioning") -> dict[tuple[str, str], Any]:
    """``(location, key) -> (match, third_party, {field: value})`` for one source's hits."""
    records: dict[tuple[str, str], Any] = {}
    for row in hits.to_pylist():
        if row["source"] != source:
            continue
        ref = (row["location"], row["record_key"])
        match, third, fields = records.setdefault(ref, (row["match"], row["third_party"], {}))
        assert row["match"] == match, f"{ref}: one match kind per record"
        assert row["third_party"] == third, f"{ref}: third_party is per record here"
        fields[row["field"]] = row["value"]
    return records
