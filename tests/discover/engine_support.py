"""Helpers for the engine and case tests: the demo's customer databases in SQLite,
sources files for them, and views of a result's hits per record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from connectors.base import Connector
from discover.demo.databases import build_crm, build_telephony
from discover.engine import SearchResult, search
from discover.request import build_request
from discover.sources import SourcesConfig, load_sources

JAN_EMAIL = "email:jan.devries@acme-logistiek.nl"
JAN_MOBILE = "phone:+31612345678"


def build_demo(directory: Path) -> Path:
    """The demo's CRM and telephony databases as SQLite files in ``directory``."""
    sqlite(directory / "crm.sqlite", build_crm)
    sqlite(directory / "telephony.sqlite", build_telephony)
    return directory


def sqlite(path: Path, build: Callable[[sa.Engine], None]) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        build(engine)
    finally:
        engine.dispose()


def sources_file(directory: Path, entries: list[dict[str, Any]], **settings: int) -> SourcesConfig:
    document = {"version": 1, "settings": settings, "sources": entries}
    path = directory / f"sources-{len(list(directory.glob('sources-*')))}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_sources(path, environ={})


def sql_source(name: str, mapping: str | Path, url: str) -> dict[str, Any]:
    return {"name": name, "kind": "sql", "mapping": str(mapping), "connection": {"url": url}}


def demo(directory: Path, *, extra: list[dict[str, Any]] = (), **settings: int) -> SourcesConfig:
    entries = [
        sql_source("crm", "shipped:demo/crm.yaml", "sqlite:///crm.sqlite"),
        sql_source("telephony", "shipped:demo/telephony.yaml", "sqlite:///telephony.sqlite"),
        *extra,
    ]
    return sources_file(directory, entries, **{"max_depth": 3, "max_holders": 3, **settings})


def run(sources: SourcesConfig, *identifiers: tuple[str, str]) -> SearchResult:
    return search(build_request(list(identifiers), request_id="REQ-T"), sources)


def search_with(
    sources: SourcesConfig,
    connectors: Sequence[Connector],
    *identifiers: tuple[str, str],
    request_id: str,
) -> SearchResult:
    """A search through ``connectors`` (made by the test), closed afterwards."""
    try:
        return search(
            build_request(list(identifiers), request_id=request_id),
            sources,
            connectors=list(connectors),
        )
    finally:
        for connector in connectors:
            connector.close()


def records(result: SearchResult) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(source, location, key) -> the record's match, via, matched_on."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in result.hits.to_pylist():
        ref = (row["source"], row["location"], row["record_key"])
        out[ref] = {k: row[k] for k in ("match", "via", "matched_on")}
    return out


def fields(result: SearchResult, location: str, key: str) -> dict[str, dict[str, Any]]:
    return {
        row["field"]: row
        for row in result.hits.to_pylist()
        if row["location"] == location and row["record_key"] == key
    }


def trace(result: SearchResult, identifier: str) -> dict[str, Any]:
    return next(t.to_document() for t in result.traces if str(t.identifier) == identifier)
