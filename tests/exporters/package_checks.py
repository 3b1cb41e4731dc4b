"""Shared checks for package tests: an independent reading of the policy and of packages.

``expected_fields`` recomputes, from the case alone and without calling the policy
module, which fields a package must hold and with which value (None where the value
must be withheld or redacted). The ``*_fields`` readers read a package back from its
files (JSON, CSV with polars, XLSX with openpyxl) into the same shape, counting how
often each field occurs, so that tests can assert "every included hit exactly once,
nothing else".
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl

from discover.case import read_case
from discover.identifiers import try_normalise
from discover.policy import Decision
from discover.register import default_register
from exporters.tables import iso_datetime

#: the possible matches of the demo and synthetic cases stay out undecided, as
#: ``discover export --allow-undecided`` leaves them (the library refuses otherwise)
UNDECIDED_OUT = {"allow_undecided": True}
#: every controller's part, on the client's instruction that lets client records in
EVERY = {"controller": "all", "client_instruction": "TEST-INSTRUCTION-1", **UNDECIDED_OUT}

FieldRef = tuple[str, str, str, str]  # source, location, record_key, field
RecordRef = tuple[str, str, str]
PORTABLE = ("contract", "consent")


@dataclass(frozen=True)
class Expected:
    fields: dict[FieldRef, list[str | None]]  # a multi-valued attribute has several
    hidden_values: set[str]  # values of withheld/redacted/excluded hits never to be written
    legal_categories: set[str]  # categories of included hits

    @property
    def records(self) -> set[RecordRef]:
        return {f[:3] for f in self.fields}


def expected_fields(
    case_path: Path,
    *,
    kind: str,
    controller: str = "all",
    decisions: Sequence[Decision] = (),
) -> Expected:
    """What a package of the case must hold, by the rules of the issue, not the code."""
    case = read_case(case_path)
    rows = case.hits.to_pylist()
    latest = {d.ref: d for d in decisions}
    included = []
    for row in rows:
        ref = (row["source"], row["location"], row["record_key"])
        decision = latest.get(ref)
        if decision is not None and decision.action == "exclude":
            continue
        confirmed = decision is not None and decision.action == "confirm"
        if row["match"] == "possible" and not confirmed:
            continue
        if kind == "portability" and (not row["portable"] or row["legal_basis"] not in PORTABLE):
            continue
        if kind == "portability" and (row.get("origin") or "provided") not in (
            "provided",
            "observed",
        ):
            continue  # WP242: derived and system data are not portable
        if kind == "portability" and row.get("entity") == "organisation":
            continue
        if controller != "all" and row["controller"] != controller:
            continue
        included.append(row)
    # Both packages carry the other people's data the subject keeps for their own use
    # (their phonebook contacts: categories marked portable_third_party), and show the
    # other party of the subject's own calls with the last four digits masked.
    register = default_register()
    own_use = set(register.own_use_categories())
    masked = register.masked_categories()

    def maskable(row: dict[str, Any]) -> bool:
        return (
            bool(row["third_party"])
            and row["category"] in masked
            and row["identifier"] == "phone"
            and not row["secret"]
        )

    def other_persons(row: dict[str, Any]) -> bool:
        return bool(row["third_party"]) and row["category"] not in own_use and not maskable(row)

    def shown(row: dict[str, Any]) -> str | None:
        if maskable(row):
            number = try_normalise("phone", row["value"]) or row["value"]
            digits = masked[row["category"]]
            return number[:-digits] + "x" * digits
        return iso_datetime(row["value"]) if row["identifier"] is None else row["value"]

    own = {(r["source"], r["location"], r["record_key"]) for r in included if not other_persons(r)}
    included = [r for r in included if (r["source"], r["location"], r["record_key"]) in own]
    fields: dict[FieldRef, list[str | None]] = {}
    for row in included:
        key = (row["source"], row["location"], row["record_key"], row["field"])
        hidden = row["secret"] or other_persons(row)
        fields.setdefault(key, []).append(None if hidden else shown(row))
    visible = {v for values in fields.values() for v in values if v}
    for row in included:
        visible.update(x for x in (row["via"], row["matched_on"], row["record_key"]) if x)
    # the request's own record and the cover name these legitimately
    visible.update(x for x in (case.request.client, case.request.subject_name) if x)
    visible.update(i.value for i in case.request.identifiers)
    visible.update(value for _kind, value in case.request.raw_identifiers)  # as written
    # the client organisations' contact details (from the sources file) name them too
    for source in case.summary.get("sources", []):
        visible.update(str(v) for v in (source.get("client") or {}).values())
    hidden_values = set()
    for row in rows:
        key = (row["source"], row["location"], row["record_key"], row["field"])
        value = row["value"]
        if not value or len(value) < 6 or value in fields.get(key, []):
            continue
        if any(value in shown for shown in visible):
            continue  # the same text is also legitimately in the package
        hidden_values.add(value)
    categories = {r["category"] for r in included}
    return Expected(fields=fields, hidden_values=hidden_values, legal_categories=categories)


def json_access_fields(document: dict[str, Any]) -> Counter[tuple[FieldRef, str | None]]:
    """(field, value) occurrences in an access.json document."""
    found: Counter[tuple[FieldRef, str | None]] = Counter()
    for service in document["data"]:
        for category in service["categories"]:
            for source in category["sources"]:
                for record in source["records"]:
                    for field in record["fields"]:
                        ref = (
                            source["source"],
                            record["location"],
                            record["record_key"],
                            field["field"],
                        )
                        found[(ref, field["value"])] += 1
    return found


def _table_cells(
    source: str, location: str, columns: Sequence[dict[str, Any]], rows: Iterable[Sequence[Any]]
) -> Counter[tuple[FieldRef, Any]]:
    found: Counter[tuple[FieldRef, Any]] = Counter()
    names = [c["name"] for c in columns]
    fields = [c["field"] for c in columns]
    key_index = names.index("_record_key")
    for row in rows:
        for position, value in enumerate(row):
            if fields[position] is None:
                continue
            found[((source, location, row[key_index], fields[position]), value)] += 1
    return found


def json_portability_fields(document: dict[str, Any]) -> Counter[tuple[FieldRef, Any]]:
    found: Counter[tuple[FieldRef, Any]] = Counter()
    for dataset in document["datasets"]:
        columns = dataset["columns"]
        names = [c["name"] for c in columns]
        rows = []
        for record in dataset["records"]:
            values = dict(record["values"], _record_key=record["record_key"])
            values["_recorded_at"] = record["recorded_at"]
            rows.append([values.get(n) for n in names])
        found += _table_cells(dataset["source"], dataset["location"], columns, rows)
    return found


def read_package_csv(path: Path) -> pl.DataFrame:
    """A package CSV as Dutch Excel reads it: UTF-8 with a BOM, ';'-separated, all text."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: no byte-order mark"
    return pl.read_csv(io.BytesIO(raw[3:]), separator=";", infer_schema=False)


def _formula_free(value: Any) -> Any:
    # the CSV writes a formula-like value with a leading apostrophe; JSON keeps it raw
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in ("=", "+", "-", "@"):
        return value[1:]
    return value


def csv_fields(package: Path) -> Counter[tuple[FieldRef, Any]]:
    """Cells of every CSV, loaded with polars as text, keyed through the sidecar."""
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    tables = sidecar.get("record_types") or sidecar.get("datasets")
    found: Counter[tuple[FieldRef, Any]] = Counter()
    for table in tables:
        frame = read_package_csv(package / "csv" / table["file"])
        assert frame.columns == [c["header"] for c in table["columns"]]
        assert frame.height == table["rows"]
        rows = [tuple(_formula_free(v) for v in row) for row in frame.rows()]
        found += _table_cells(table["source"], table["location"], table["columns"], rows)
    return found


def xlsx_fields(
    path: Path, sheets: dict[str, tuple[str, str]], fields_by_sheet: dict[str, list[str | None]]
) -> Counter[tuple[FieldRef, Any]]:
    """Cells of the data sheets of an XLSX, as openpyxl reads them (typed)."""
    book = openpyxl.load_workbook(path, read_only=True)
    found: Counter[tuple[FieldRef, Any]] = Counter()
    for name, (source, location) in sheets.items():
        rows = list(book[name].iter_rows(values_only=True))
        fields = fields_by_sheet[name]
        columns = [
            {"name": "_record_key" if i == 0 else f"c{i}", "field": f} for i, f in enumerate(fields)
        ]
        found += _table_cells(source, location, columns, rows[1:])
    book.close()
    return found


def non_null(found: Counter[tuple[FieldRef, Any]]) -> dict[FieldRef, list[Any]]:
    result: dict[FieldRef, list[Any]] = {}
    for (ref, value), count in found.items():
        if value is None or value == "":
            continue
        result.setdefault(ref, []).extend([value] * count)
    return result


def package_bytes(package: Path) -> dict[str, bytes]:
    """Every file's bytes, plus every member of every (unencrypted) ZIP, decompressed."""
    contents: dict[str, bytes] = {}
    for file in sorted(package.rglob("*")):
        if not file.is_file():
            continue
        data = file.read_bytes()
        name = file.relative_to(package).as_posix()
        contents[name] = data
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.infolist():
                    if member.flag_bits & 0x1:
                        continue  # encrypted: tests decrypt it themselves
                    contents[f"{name}!{member.filename}"] = archive.read(member)
    return contents


def assert_absent(package: Path, needles: Iterable[str]) -> None:
    """No needle occurs in any byte of any file (or ZIP member) of the package."""
    contents = package_bytes(package)
    for needle in needles:
        encoded = needle.encode("utf-8")
        for name, data in contents.items():
            assert encoded not in data, f"{needle!r} found in {name}"
