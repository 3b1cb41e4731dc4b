"""The CSV format: files a Dutch Excel opens correctly, with the JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path

from support.resealed import reseal

from discover.case import read_case
from discover.policy import select_hits
from discover.register import default_register
from exporters import export_package
from exporters.content import hit_controller_names
from exporters.csv_export import SEPARATOR, neutralise, text_frame
from exporters.tables import record_types
from tests.exporters.package_checks import EVERY, read_package_csv


def test_each_csv_loads_back_to_the_same_rows(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(demo_case, formats=["csv"], out=tmp_path, **EVERY).path
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    register = default_register()
    case = read_case(demo_case)
    hits = select_hits(
        case.hits,
        kind="access",
        controller="all",
        own_use_categories=register.own_use_categories(),
        masked_categories=register.masked_categories(),
    ).hits
    names = hit_controller_names(hits, case, register, "nl")
    tables = {t.id: t for t in record_types(hits, kind="access", controller_names=names)}
    assert sorted(t["id"] for t in sidecar["record_types"]) == sorted(tables)
    assert sorted(p.name for p in (package / "csv").iterdir()) == sorted(
        [t["file"] for t in sidecar["record_types"]] + ["metadata.json"]
    )
    assert sidecar["csv"] == {"encoding": "utf-8-sig", "separator": ";", "formula_prefix": "'"}
    for described in sidecar["record_types"]:
        table = tables[described["id"]]
        loaded = read_package_csv(package / "csv" / described["file"])
        assert loaded.columns == [c["header"] for c in described["columns"]]
        expected = [tuple(neutralise(v) for v in row) for row in text_frame(table).rows()]
        assert loaded.rows() == expected


def test_files_and_headers_are_named_for_people_not_by_records(
    demo_case: Path, tmp_path: Path
) -> None:
    package = export_package(demo_case, formats=["csv"], out=tmp_path, **EVERY).path
    names = sorted(p.name for p in (package / "csv").iterdir())
    assert "VoIP-toestel.csv" in names and "Telefoonboek.csv" in names
    assert not any("001565" in n or "ldif" in n or "DC=" in n for n in names), names
    handsets = read_package_csv(package / "csv" / "VoIP-toestel.csv")
    assert "MAC-adres toestel" in handsets.columns and "mac" not in handsets.columns
    english = export_package(
        demo_case, formats=["csv"], language="en", out=tmp_path / "en", **EVERY
    )
    handsets = read_package_csv(english.path / "csv" / "VoIP handset.csv")
    assert "Handset MAC address" in handsets.columns


def test_columns_of_a_linked_record_read_as_labels_not_field_names(
    demo_case: Path, tmp_path: Path
) -> None:
    """The other keyholders of Jan's alarm object: their columns carry the label and say
    they belong to a linked record, in the package language, in the CSV and the XLSX."""
    from openpyxl import load_workbook

    for language, title, keyholder in (
        ("nl", "Sleutelhouders alarm", "Sleutelhouder (gekoppelde vermelding)"),
        ("en", "Alarm keyholders", "Keyholder (linked record)"),
    ):
        out = tmp_path / language
        package = export_package(
            demo_case, formats=["csv", "xlsx"], language=language, out=out, **EVERY
        ).path
        columns = list(read_package_csv(package / "csv" / f"{title}.csv").columns)
        sheet = load_workbook(package / "access.xlsx")[title]
        for shown in (columns, [c.value for c in sheet[1]]):
            assert keyholder in shown
            assert not any("keyholder_name" in c or ": " in c for c in shown), shown
            assert len(set(shown)) == len(shown)


def test_bom_and_semicolons_for_dutch_excel(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(demo_case, formats=["csv"], out=tmp_path, **EVERY).path
    raw = (package / "csv" / "Contactpersoon.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n", 1)[0].decode("utf-8")
    assert SEPARATOR in header and "," not in header.replace(", ", "")


def test_formula_prefixes_are_neutralised_and_json_keeps_the_raw_value() -> None:
    assert neutralise('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert neutralise("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-2+3") == "'-2+3"
    assert neutralise("\tx") == "'\tx"
    # numbers stay numbers
    assert neutralise("+31612345678") == "+31612345678"
    assert neutralise("+3120123xxxx") == "+3120123xxxx"
    assert neutralise("-12.5") == "-12.5"
    assert neutralise("Jan") == "Jan" and neutralise(None) is None


def test_a_formula_in_a_source_value(synthetic_case: Path, fresh_case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    case = fresh_case(synthetic_case)
    hits = pq.read_table(case / "hits.parquet")
    visible = pc.and_(pc.invert(hits.column("secret")), pc.invert(hits.column("third_party")))
    visible = pc.and_(visible, pc.is_null(hits.column("identifier")))
    index = pc.index(visible, True).as_py()
    values = hits.column("value").to_pylist()
    values[index] = '=HYPERLINK("http://evil.example/","klik")'
    hits = hits.set_column(hits.schema.get_field_index("value"), "value", pa.array(values))
    pq.write_table(hits, case / "hits.parquet")
    reseal(case)
    package = export_package(case, formats=["csv", "json"], out=tmp_path, **EVERY).path
    texts = [p.read_text(encoding="utf-8-sig") for p in (package / "csv").glob("*.csv")]
    assert any("'=HYPERLINK" in t for t in texts)
    assert not any(";=HYPERLINK" in t or "\n=HYPERLINK" in t for t in texts)
    assert '"=HYPERLINK(' in (package / "access.json").read_text(encoding="utf-8")


def test_sidecar_explains_empty_cells(synthetic_case: Path, tmp_path: Path) -> None:
    package = export_package(synthetic_case, formats=["csv"], out=tmp_path, **EVERY).path
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    withheld = {(w["location"], w["field"]) for w in sidecar["withheld"]["fields"]}
    assert ("contacts", "portal_password") in withheld
    assert "privacy@bezorgsupport.nl" in sidecar["withheld"]["subject"]
