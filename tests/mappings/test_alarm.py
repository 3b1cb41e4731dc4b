"""Shipped alarm keyholder mapping on the demo's XLSX (xlsxwriter), through the engine:
a keyholder gets their own rows and their object; the object's other keyholders are
third_party; codewords never leave as values."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from tabular_demo import (
    case_bytes,
    context_values,
    demo_sources,
    field_values,
    hits,
    records,
    run,
    run_many,
)

from discover.case import write_case
from discover.demo.alarm import CODEWORDS, MARIEKE, build_alarm
from discover.demo.people import JAN, PIETER, ZOE
from exporters import export_package

SOURCE = "alarm-keyholders"
LOCATION = "estate/alarm/keyholders.xlsx#Sleutelhouders"


@pytest.fixture(scope="module")
def alarm(tmp_path_factory: pytest.TempPathFactory):
    return demo_sources(tmp_path_factory.mktemp("alarm"), build_alarm)


def test_jan_gets_his_row_and_object_and_zoe_is_context_of_it(alarm) -> None:
    result = run(alarm, ("phone", JAN.mobile))
    # row 3: Jan (first call) at the warehouse; row 4: Zoë, second keyholder there: her
    # row is not Jan's record but context of his, every field of it third-party.
    # The office (rows 6-7) and the bakery (rows 9-10) are not Jan's business.
    assert records(result, SOURCE) == {"row=3": ("normalised", False)}
    assert set(hits(result)["record_key"]) == {"row=3"}
    assert context_values(result, SOURCE, "row=3")["keyholder_name"] == ["Zoë Çelik"]
    own = field_values(result, SOURCE, "row=3")
    assert own["object_id"] == "ACME-OBJ-0042"
    assert own["object_address"] == "Waalhaven Z.z. 40"
    assert own["call_order"] == "1"
    assert own["mobile"] == "612345678"  # typed as a number: leading zero lost
    assert own["codeword"] is None
    frame = hits(result)
    own_fields = ~pl.col("field").str.contains(": ", literal=True)
    assert set(frame.filter(own_fields)["third_party"]) == {False}
    assert set(frame.filter(~own_fields)["third_party"]) == {True}
    codewords = frame.filter(pl.col("field").str.ends_with("codeword"))
    assert codewords.select("secret", "value").rows() == [
        (True, None),
        (True, None),
    ]
    assert set(frame["location"]) == {LOCATION}
    assert set(frame["category"]) == {"alarm.keyholder"}


def test_zoe_is_third_party_for_jan_and_herself_for_herself_in_one_batch(alarm) -> None:
    jan, zoe = run_many(alarm, [("phone", JAN.mobile)], [("email", ZOE.email)])
    assert records(jan, SOURCE) == {"row=3": ("normalised", False)}
    assert records(zoe, SOURCE) == {"row=4": ("exact", False)}
    assert context_values(zoe, SOURCE, "row=4")["keyholder_name"] == ["Jan de Vries"]
    assert field_values(zoe, SOURCE, "row=4")["keyholder_name"] == "Zoë Çelik"
    # the batch gives each subject what a search of their own gives
    assert records(run(alarm, ("email", ZOE.email)), SOURCE) == records(zoe, SOURCE)


def test_a_name_alone_finds_both_namesakes_as_possible(alarm) -> None:
    result = run(alarm, ("name", "Jan de Vries"))
    assert records(result, SOURCE) == {
        "row=3": ("possible", False),
        "row=9": ("possible", False),
    }
    # the other keyholders are context of the possible rows, not possible records
    assert context_values(result, SOURCE, "row=9")["keyholder_name"]


def test_a_keyholder_of_another_object_sees_none_of_jans_object(alarm) -> None:
    result = run(alarm, ("phone", PIETER.mobile))
    assert records(result, SOURCE) == {"row=6": ("normalised", False)}
    assert "keyholder_name" in context_values(result, SOURCE, "row=6")


def test_no_codeword_in_hits_parquet_or_the_package(alarm, tmp_path: Path) -> None:
    result = run(alarm, ("phone", JAN.mobile), ("name", MARIEKE[0]))
    frame = hits(result)
    cells = {str(v) for column in frame.columns for v in frame[column].to_list()}
    plain = io.BytesIO()
    pq.write_table(result.hits, plain, compression="none")
    stored = case_bytes(result, tmp_path)
    for codeword in CODEWORDS.values():
        assert not any(codeword in cell for cell in cells)
        assert codeword.encode() not in plain.getvalue()
        assert codeword.encode() not in stored


def test_access_package_redacts_the_other_keyholder(alarm, tmp_path: Path) -> None:
    result = run(alarm, ("phone", JAN.mobile))
    case = tmp_path / "case"
    write_case(result, case)
    package = export_package(
        case,
        kind="access",
        formats=["json", "csv"],
        out=tmp_path / "out",
        controller="all",
        client_instruction="ACME-2026-17",
    ).path
    text = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in package.rglob("*")
        if path.is_file() and path.suffix in (".json", ".csv")
    )
    assert "Waalhaven Z.z. 40" in text and "ACME-OBJ-0042" in text  # his object
    assert "Jan de Vries" in text
    for other in ("Zoë Çelik", "06-87654321", ZOE.email):
        assert other not in text
    for codeword in CODEWORDS.values():
        assert codeword not in text
