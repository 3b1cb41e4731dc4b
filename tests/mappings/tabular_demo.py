"""Helpers for the shipped tabular mappings' tests: the demo's files, real searches."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from discover.case import write_case
from discover.engine import SearchResult, search, search_many
from discover.request import build_request
from discover.sources import SourcesConfig, load_sources

Builder = Callable[[Path], list[dict[str, Any]]]


def demo_sources(
    folder: Path, *builders: Builder, names: Iterable[str] | None = None
) -> SourcesConfig:
    """Write the builders' demo files under folder/estate and a sources file for them."""
    entries: list[dict[str, Any]] = []
    (folder / "estate").mkdir(parents=True, exist_ok=True)
    for builder in builders:
        entries.extend(builder(folder / "estate"))
    if names is not None:
        wanted = set(names)
        entries = [entry for entry in entries if entry["name"] in wanted]
    document = {"version": 1, "settings": {"max_depth": 3, "max_holders": 3}, "sources": entries}
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return load_sources(path)


def run(sources: SourcesConfig, *pairs: tuple[str, str]) -> SearchResult:
    return search(build_request(list(pairs), request_id="REQ-TEST-0001"), sources)


def run_many(sources: SourcesConfig, *subjects: list[tuple[str, str]]) -> list[SearchResult]:
    requests = [
        build_request(pairs, request_id=f"REQ-TEST-{index:04d}")
        for index, pairs in enumerate(subjects, start=1)
    ]
    return search_many(requests, sources)


def hits(result: SearchResult) -> pl.DataFrame:
    return pl.from_arrow(result.hits)


def records(result: SearchResult, source: str) -> dict[str, tuple[str, bool]]:
    """record_key -> (match, third_party) of one source's records.

    Another person's record shown as context of a record (its fields named
    ``relation: field``) is not a record of its own and is left out here.
    """
    frame = hits(result).filter(
        (pl.col("source") == source) & ~pl.col("field").str.contains(": ", literal=True)
    )
    out: dict[str, tuple[str, bool]] = {}
    for key, match, third in frame.select("record_key", "match", "third_party").unique().rows():
        assert out.get(key, (match, third)) == (match, third), f"{key}: mixed classification"
        out[key] = (match, third)
    return out


def context_values(result: SearchResult, source: str, key: str) -> dict[str, list[Any]]:
    """The other people's fields shown as context of one record: field -> values."""
    frame = hits(result).filter(
        (pl.col("source") == source)
        & (pl.col("record_key") == key)
        & pl.col("field").str.contains(": ", literal=True)
    )
    assert set(frame["third_party"]) <= {True}
    out: dict[str, list[Any]] = {}
    for name, value in frame.select("field", "value").rows():
        out.setdefault(name.split(": ", 1)[1], []).append(value)
    return out


def field_values(result: SearchResult, source: str, key: str) -> dict[str, Any]:
    frame = hits(result).filter((pl.col("source") == source) & (pl.col("record_key") == key))
    return dict(frame.select("field", "value").rows())


def case_bytes(result: SearchResult, folder: Path) -> bytes:
    """hits.parquet as written to a case directory."""
    case = folder / "case"
    write_case(result, case, force=True)
    return (case / "hits.parquet").read_bytes()
