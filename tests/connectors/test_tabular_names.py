"""Names in a file are found by every letter the folding knows, not only by accents.

The candidate filter runs in polars; the verification runs fold_text. Where the two
disagreed (ı, ł, æ … which Unicode does not decompose), a name alone found nothing,
while the same row found by another identifier matched the name: a single search
and a batch then differed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tabular_helpers import connector, scan


@pytest.mark.parametrize(
    ("stored", "searched"),
    [
        ("Thijs Yılmaz", "Thijs Yilmaz"),
        ("Łukasz Wałęsa", "Lukasz Walesa"),
        ("Æsa Dæhli", "Aesa Daehli"),
    ],
)
def test_a_name_with_an_undecomposed_letter_is_a_candidate(
    tmp_path: Path, stored: str, searched: str
) -> None:
    (tmp_path / "people.csv").write_text(f"Naam;Mobiel\n{stored};06-12345678\nAnn Smit;\n", "utf-8")
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "general.contact",
        "columns": {"naam": {"identifier": "name"}, "mobiel": {"identifier": "phone"}},
    }
    result = scan(connector(tmp_path, mapping, "people.csv"), ("name", searched))
    (record,) = result.records
    assert record.value("naam") == stored and [m.field for m in record.matches] == ["naam"]
