"""Sampling spreadsheets and CSV files for discovery: every sheet, the mapping's header row."""

from __future__ import annotations

from pathlib import Path

import pytest
from tabular_helpers import workbook_bytes

from connectors.sampling import SampledField, sampler
from connectors.tabular.connector import TabularConnector
from discover.errors import SourceError
from discover.register import default_register
from discover.sources import SourceConfig

MAPPING = {
    "version": 1,
    "kind": "tabular",
    "category": "general.contact",
    "read": {"header_row": 3},
    "columns": {"e_mail": {"identifier": "email"}, "codeword": {"secret": True}},
    "headers": {"e_mail": ["E-mail adres"]},
}


def _sample(path: Path, rows: int = 20) -> dict[tuple[str, str], SampledField]:
    model = TabularConnector.parse_mapping(MAPPING, register=default_register(), file="t.yaml")
    source = SourceConfig(
        "sheets", "tabular", Path("t.yaml"), {"path": str(path)}, base_dir=path.parent
    )
    return {(p.location, p.field): p for p in sampler("tabular")(source, model, rows)}


def test_csv_with_the_header_on_row_three(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    path.write_text(
        "Export sleutelhouders\n\nE-mail adres;Mobiel;Codeword\n"
        "jan@example.nl;06-12345678;Havenlicht-7\nzoe@example.nl;+31687654321;Zeemeeuw-31\n",
        "utf-8",
    )
    places = _sample(path)
    assert places[("keys.csv", "E-mail adres")].mapped == "e_mail"
    assert places[("keys.csv", "Mobiel")].mapped is None
    assert places[("keys.csv", "Mobiel")].values == ["06-12345678", "+31687654321"]
    assert places[("keys.csv", "Codeword")].secret
    assert places[("keys.csv", "Codeword")].values == []


def test_every_sheet_of_a_workbook_also_those_the_mapping_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(
        workbook_bytes(
            {
                "Sleutels": [
                    ["titel"],
                    [None],
                    ["E-mail adres", "Naam"],
                    ["jan@example.nl", "Jan"],
                ],
                "Extra": [["x"], [None], ["IBAN"], ["NL91ABNA0417164300"]],
            }
        )
    )
    places = _sample(path)
    assert places[("book.xlsx#Sleutels", "E-mail adres")].mapped == "e_mail"
    extra = places[("book.xlsx#Extra", "IBAN")]
    assert (extra.mapped, extra.values) == (None, ["NL91ABNA0417164300"])


def test_a_field_is_found_under_its_own_name_too(tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    path.write_text("a\n\ne_mail\njan@example.nl\n", "utf-8")
    assert _sample(path)[("named.csv", "e_mail")].mapped == "e_mail"


def test_no_matching_file_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        _sample(tmp_path / "none-*.csv")
    assert caught.value.source == "sheets"
