"""The case directory: what a search found, kept for review and export.

A case holds ``request.json`` (the request as searched), ``hits.parquet`` (the hits
table), ``summary.json`` (per-source status, counts per source and category,
identifier provenance, warnings) and, once staff review it, ``decisions.json``.
Every file is written atomically and readable by the owner only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from discover.config import read_document
from discover.engine import SearchResult
from discover.errors import CaseError, ConfigError
from discover.files import atomic_open, private_dir, write_json
from discover.hits import HITS_SCHEMA, with_optional_columns
from discover.request import Request, request_from_document

CASE_VERSION = 1
REQUEST_FILE = "request.json"
HITS_FILE = "hits.parquet"
SUMMARY_FILE = "summary.json"
DECISIONS_FILE = "decisions.json"


@dataclass(frozen=True, slots=True)
class Case:
    """A case read back from disk."""

    path: Path
    request: Request
    hits: pa.Table
    summary: dict[str, Any]

    @property
    def complete(self) -> bool:
        return bool(self.summary.get("complete"))


def summarise(result: SearchResult) -> dict[str, Any]:
    """The summary document: counts per source and category, failures, provenance.

    ``records`` count distinct records, ``hits`` their field values. A record has one
    match kind, so ``by_match`` and ``needs_review`` (the possible ones, which staff
    must look at) count records; ``overdue``, ``secrets_withheld`` and ``third_party``
    are flags of single field values and count hits. Per source, ``categories``
    counts the hits in each register category.
    """
    hits = result.hits
    columns = {
        name: hits.column(name).to_pylist()
        for name in ("source", "location", "record_key", "category", "match")
    }
    kind_of: dict[tuple[str, str, str], str] = {}
    per_source_hits: Counter[str] = Counter()
    per_category: dict[str, Counter[str]] = {}
    for source, location, key, category, match in zip(*columns.values(), strict=True):
        kind_of[(source, location, key)] = match
        per_source_hits[source] += 1
        per_category.setdefault(source, Counter())[category] += 1
    per_source_records = Counter(source for source, _location, _key in kind_of)
    matches = Counter(kind_of.values())
    source_docs = []
    for status in result.sources:
        document = status.to_document()
        document["records"] = per_source_records.get(status.name, 0)
        document["hits"] = per_source_hits.get(status.name, 0)
        document["categories"] = dict(sorted(per_category.get(status.name, Counter()).items()))
        source_docs.append(document)

    def flagged(name: str) -> int:
        return sum(1 for flag in hits.column(name).to_pylist() if flag)

    return {
        "version": CASE_VERSION,
        "request_id": result.request.request_id,
        "complete": result.complete,
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "totals": {
            "records": len(kind_of),
            "hits": hits.num_rows,
            "by_match": dict(sorted(matches.items())),
            "needs_review": matches.get("possible", 0),
            "overdue": flagged("overdue"),
            "secrets_withheld": flagged("secret"),
            "third_party": flagged("third_party"),
        },
        "sources": source_docs,
        "failed_sources": [s.name for s in result.failed_sources],
        "identifiers": [trace.to_document() for trace in result.traces],
        "warnings": result.warnings,
    }


def is_case(path: Path) -> bool:
    return (path / SUMMARY_FILE).is_file() or (path / HITS_FILE).is_file()


def write_case(result: SearchResult, path: Path, *, force: bool = False) -> dict[str, Any]:
    """Write a search result as a case directory; refuses to overwrite another case."""
    if path.exists() and not path.is_dir():
        raise CaseError(f"{path} exists and is not a directory")
    if is_case(path) and not force:
        raise CaseError(f"{path} already holds a case; choose another --case or pass --force")
    private_dir(path)
    write_json(path / REQUEST_FILE, result.request.to_document())
    with atomic_open(path / HITS_FILE, "wb") as handle:
        pq.write_table(result.hits, handle, compression="zstd")
    summary = summarise(result)
    write_json(path / SUMMARY_FILE, summary)
    decisions = path / DECISIONS_FILE
    if force and decisions.exists():
        decisions.unlink()  # decisions referred to the previous hits
    return summary


def read_case(path: Path) -> Case:
    """Read a case directory back; CaseError names what is missing or broken."""
    if not path.is_dir():
        raise CaseError(f"{path}: no such case directory")
    for name in (REQUEST_FILE, HITS_FILE, SUMMARY_FILE):
        if not (path / name).is_file():
            raise CaseError(f"{path}: {name} is missing; is this a case directory?")
    try:
        request = request_from_document(
            read_document(path / REQUEST_FILE, label=f"{path.name}/{REQUEST_FILE}"),
            file=f"{path.name}/{REQUEST_FILE}",
        )
        summary = read_document(path / SUMMARY_FILE, label=f"{path.name}/{SUMMARY_FILE}")
    except ConfigError as exc:
        raise CaseError(str(exc)) from None
    try:
        hits = pq.read_table(path / HITS_FILE)
    except (OSError, pa.ArrowException) as exc:
        raise CaseError(f"{path}/{HITS_FILE}: unreadable ({exc})") from None
    if not hits.schema.equals(HITS_SCHEMA, check_metadata=False):
        try:
            hits = with_optional_columns(hits)
            hits = hits.select(list(HITS_SCHEMA.names)).cast(HITS_SCHEMA)
        except (KeyError, pa.ArrowException) as exc:
            raise CaseError(f"{path}/{HITS_FILE}: not in the hits schema ({exc})") from None
    if not isinstance(summary, dict) or summary.get("version") != CASE_VERSION:
        raise CaseError(f"{path}/{SUMMARY_FILE}: expected a version {CASE_VERSION} summary")
    return Case(path=path, request=request, hits=hits, summary=summary)
