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
from discover.hits import HITS_SCHEMA
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
    """The summary document: counts per source and category, failures, provenance."""
    hits = result.hits
    sources = hits.column("source").to_pylist()
    categories = hits.column("category").to_pylist()
    records = {
        (s, loc, key)
        for s, loc, key in zip(
            sources,
            hits.column("location").to_pylist(),
            hits.column("record_key").to_pylist(),
            strict=True,
        )
    }
    per_source_records = Counter(s for s, _loc, _key in records)
    per_source_hits = Counter(sources)
    per_category: dict[str, Counter[str]] = {}
    for source, category in zip(sources, categories, strict=True):
        per_category.setdefault(source, Counter())[category] += 1
    matches = Counter(hits.column("match").to_pylist())
    source_docs = []
    for status in result.sources:
        document = status.to_document()
        document["records"] = per_source_records.get(status.name, 0)
        document["hits"] = per_source_hits.get(status.name, 0)
        document["categories"] = dict(sorted(per_category.get(status.name, Counter()).items()))
        source_docs.append(document)
    return {
        "version": CASE_VERSION,
        "request_id": result.request.request_id,
        "complete": result.complete,
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "totals": {
            "records": len(records),
            "hits": hits.num_rows,
            "by_match": dict(sorted(matches.items())),
            "needs_review": matches.get("possible", 0),
            "overdue": sum(1 for flag in hits.column("overdue").to_pylist() if flag),
            "secrets_withheld": sum(1 for flag in hits.column("secret").to_pylist() if flag),
            "third_party": sum(1 for flag in hits.column("third_party").to_pylist() if flag),
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
            hits = hits.select(list(HITS_SCHEMA.names)).cast(HITS_SCHEMA)
        except (KeyError, pa.ArrowException) as exc:
            raise CaseError(f"{path}/{HITS_FILE}: not in the hits schema ({exc})") from None
    if not isinstance(summary, dict) or summary.get("version") != CASE_VERSION:
        raise CaseError(f"{path}/{SUMMARY_FILE}: expected a version {CASE_VERSION} summary")
    return Case(path=path, request=request, hits=hits, summary=summary)
