"""The CSV format: one UTF-8 CSV per record type with a header, plus the JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from discover.case import read_case
from discover.policy import select_hits
from exporters import export_package
from exporters.csv_export import text_frame
from exporters.tables import record_types


def test_each_csv_loads_back_to_the_same_rows(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(demo_case, formats=["csv"], out=tmp_path).path
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    tables = record_types(select_hits(read_case(demo_case).hits, kind="access").hits, kind="access")
    assert [t["id"] for t in sidecar["record_types"]] == [t.id for t in tables]
    assert sorted(p.name for p in (package / "csv").iterdir()) == sorted(
        [t["file"] for t in sidecar["record_types"]] + ["metadata.json"]
    )
    for table, described in zip(tables, sidecar["record_types"], strict=True):
        path = package / "csv" / described["file"]
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark
        raw.decode("utf-8")
        loaded = pl.read_csv(path, infer_schema=False)
        assert loaded.columns == [c.name for c in table.columns]
        assert loaded.rows() == text_frame(table).rows()


def test_non_ascii_text_survives(demo_case: Path, tmp_path: Path) -> None:
    from support.synthetic_case import write_synthetic_case

    case = tmp_path / "case"
    write_synthetic_case(case, 300)
    package = export_package(case, kind="portability", formats=["csv"], out=tmp_path).path
    phonebook = pl.read_csv(package / "csv" / "voip.phonebook.csv", infer_schema=False)
    assert phonebook.get_column("name")[0].startswith("Zoë Çelik")


def test_sidecar_explains_empty_cells(synthetic_case: Path, tmp_path: Path) -> None:
    package = export_package(synthetic_case, formats=["csv"], out=tmp_path).path
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    withheld = {(w["location"], w["field"]) for w in sidecar["withheld"]["fields"]}
    redacted = {(w["location"], w["field"]) for w in sidecar["redacted"]["fields"]}
    assert ("contacts", "portal_password") in withheld
    assert ("cdr", "called_number") in redacted
    assert "privacy@bezorgsupport.nl" in sidecar["withheld"]["explanation"]
    cdr = pl.read_csv(package / "csv" / "telephony.cdr.csv", infer_schema=False)
    assert cdr.get_column("called_number").null_count() == cdr.height
