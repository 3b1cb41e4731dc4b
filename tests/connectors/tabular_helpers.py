"""Helpers for the tabular connector tests: real files, a real sources file, real mappings."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook

from connectors import load_mappings
from connectors.base import ScanResult
from connectors.tabular.connector import TabularConnector
from discover.engine import open_connectors
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import load_sources


def ids(*pairs: tuple[str, str]) -> list[Identifier]:
    """Identifiers from (type, raw) pairs."""
    return [Identifier.parse(kind, raw) for kind, raw in pairs]


def write_sources(
    folder: Path, mapping: dict[str, Any] | str, path: str | list[str], **connection: Any
) -> Path:
    """A sources file with one tabular source named ``files``; returns its path."""
    if isinstance(mapping, dict):
        (folder / "mapping.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True))
        mapping_ref = "mapping.yaml"
    else:
        mapping_ref = mapping
    sources = {
        "version": 1,
        "sources": [
            {
                "name": "files",
                "kind": "tabular",
                "mapping": mapping_ref,
                "connection": {"path": path, **connection},
            }
        ],
    }
    target = folder / "sources.yaml"
    target.write_text(yaml.safe_dump(sources, allow_unicode=True))
    return target


def connector(
    folder: Path, mapping: dict[str, Any] | str, path: str | list[str], **connection: Any
) -> TabularConnector:
    """A TabularConnector built the way the engine builds it."""
    sources = load_sources(write_sources(folder, mapping, path, **connection))
    register = default_register()
    (built,) = open_connectors(sources, load_mappings(sources, register), register)
    assert isinstance(built, TabularConnector)
    return built


def scan(target: TabularConnector, *pairs: tuple[str, str]) -> ScanResult:
    target.check()
    return target.scan(ids(*pairs))


def keys(result: ScanResult, *, third_party: bool | None = None) -> list[str]:
    """Sorted record keys (optionally only third-party or only own records)."""
    return sorted(
        record.key
        for record in result.records
        if third_party is None or record.third_party == third_party
    )


def workbook_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    """An XLSX (openpyxl) with one sheet per entry; None rows stay empty."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for number, row in enumerate(rows, start=1):
            if row is None:
                continue
            for column, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SIM_MAPPING: dict[str, Any] = {
    "version": 1,
    "kind": "tabular",
    "category": "mobile.sim",
    "columns": {
        "iccid": {"identifier": "iccid"},
        "msisdn": {"identifier": "phone"},
        "imei": {"identifier": "imei", "category": "mobile.device"},
        "name": {"identifier": "name"},
        "email": {"identifier": "email"},
        "puk": {"secret": True},
        "status": None,
    },
    "headers": {
        "iccid": ["ICCID"],
        "msisdn": ["MSISDN"],
        "imei": ["IMEI"],
        "name": ["Naam"],
        "email": ["E-mail"],
        "puk": ["PUK"],
        "status": {"names": ["Status"], "optional": True},
    },
}
