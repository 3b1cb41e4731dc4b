"""Shipped mobile mappings on the demo's files (XLSX by openpyxl, CSV logs), through the
engine: exact hits per subject, the retired-SIM rule, secrets, and the expansion chain
e-mail -> CRM contact -> mobile number -> SIM (ICCID) -> IMEI -> roaming notifications."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from tabular_demo import case_bytes, demo_sources, field_values, hits, records, run

from discover.demo.estate import build_databases, build_estate
from discover.demo.mobile import FORMER, PUKS, ZOE_IMEISV, build_mobile
from discover.demo.people import JAN, PIETER, ZOE
from discover.engine import search
from discover.request import build_request, load_request
from discover.sources import load_sources

SHEET = "estate/mobile/sim-inventory.xlsx#SIM-kaarten"
ROAMING = "roaming-notifications"
BUNDLES = "bundle-notifications"
INVENTORY = "mobile-inventory"


@pytest.fixture(scope="module")
def mobile(tmp_path_factory: pytest.TempPathFactory):
    return demo_sources(tmp_path_factory.mktemp("mobile"), build_mobile)


def test_jan_by_his_number(mobile) -> None:
    result = run(mobile, ("phone", "06 12345678"))
    assert records(result, INVENTORY) == {"row=5": ("normalised", False)}
    assert records(result, ROAMING) == {
        "message_id=R-2026-0001": ("exact", False),
        "message_id=R-2026-0002": ("normalised", False),
        "message_id=R-2026-0004": ("expanded", False),  # no MSISDN: through IMSI/IMEI
    }
    assert records(result, BUNDLES) == {
        "message_id=B-2026-0101": ("normalised", False),
        "message_id=B-2026-0102": ("normalised", False),
    }
    sim = field_values(result, INVENTORY, "row=5")
    assert sim["iccid"] == JAN.iccid
    assert sim["msisdn"] == "612345678"  # the cell lost its leading zero; still his
    assert sim["user_name"] == "Jan de Vries"  # trailing space trimmed
    assert sim["imei"] == "35 209900 176148 1"
    assert sim["puk"] is None
    frame = hits(result)
    assert frame.filter(pl.col("field") == "puk").select("secret", "value").rows() == [(True, None)]
    assert set(frame.filter(pl.col("source") == INVENTORY)["category"]) == {
        "mobile.sim",
        "mobile.device",
        "general.billing",
    }
    traces = {str(t.identifier): t for t in result.traces}
    for found in (f"iccid:{JAN.iccid}", f"imei:{JAN.imei}", f"imsi:{JAN.imsi}"):
        assert traces[found].depth == 1
        assert traces[found].found_in.startswith(f"{INVENTORY}:{SHEET}[row=5].")
    # the retired SIM of the number's former holder is not Jan's, and says so
    (status,) = [s for s in result.sources if s.name == INVENTORY]
    assert any("retired row(s)" in w and "(row 12)" in w for w in status.warnings)
    assert FORMER.name not in set(frame["value"].drop_nulls())
    assert result.complete


def test_the_former_holder_gets_his_retired_sim_and_nothing_of_the_new_holder(mobile) -> None:
    result = run(mobile, ("email", FORMER.email))
    assert records(result, INVENTORY) == {"row=12": ("exact", False)}
    assert field_values(result, INVENTORY, "row=12")["msisdn"] == "06-12345678"
    assert records(result, ROAMING) == {} and records(result, BUNDLES) == {}
    searched = {str(t.identifier) for t in result.traces}
    assert "phone:+31612345678" not in searched  # a recycled number is never expanded
    assert f"iccid:{FORMER.iccid}" in searched


def test_zoe_by_iccid_in_groups_and_imeisv(mobile) -> None:
    result = run(mobile, ("iccid", ZOE.iccid))
    assert records(result, INVENTORY) == {"row=7": ("normalised", False)}
    assert field_values(result, INVENTORY, "row=7")["imei"] == ZOE_IMEISV
    assert records(result, ROAMING) == {"message_id=R-2026-0003": ("expanded", False)}
    assert records(result, BUNDLES) == {"message_id=B-2026-0104": ("expanded", False)}
    traces = {str(t.identifier) for t in result.traces}
    assert f"imei:{ZOE.imei}" in traces  # the IMEISV became its IMEI


def test_pieters_float_iccid_is_unreadable_reported_and_not_expanded(mobile) -> None:
    by_iccid = run(mobile, ("iccid", PIETER.iccid))
    assert records(by_iccid, INVENTORY) == {}
    (status,) = [s for s in by_iccid.sources if s.name == INVENTORY]
    assert status.warnings == [
        f"{SHEET}: 1 value(s) in column 'SIM-kaart ICCID' (iccid) are unreadable as iccid: "
        "a spreadsheet stored them as numbers and digits were lost (row 8); they are never "
        "matched"
    ]
    by_phone = run(mobile, ("phone", PIETER.mobile))
    assert records(by_phone, INVENTORY) == {"row=8": ("normalised", False)}
    iccid_shown = field_values(by_phone, INVENTORY, "row=8")["iccid"]
    # a number cell: shown as Excel shows it, never as digits that look exact
    assert iccid_shown == "8.93104E+18" and iccid_shown != PIETER.iccid
    assert not any(t.identifier.type == "iccid" for t in by_phone.traces)
    assert records(by_phone, ROAMING) == {"message_id=R-2026-0005": ("normalised", False)}


def test_no_puk_in_any_hit_or_in_hits_parquet(mobile, tmp_path: Path) -> None:
    result = run(
        mobile,
        ("phone", JAN.mobile),
        ("phone", ZOE.mobile),
        ("phone", PIETER.mobile),
        ("email", FORMER.email),
    )
    frame = hits(result)
    assert frame.filter(pl.col("field") == "puk").height == 4
    cells = {str(v) for column in frame.columns for v in frame[column].to_list()}
    secrets = [*PUKS.values(), FORMER.puk]
    for secret in secrets:
        assert not any(secret in cell for cell in cells)
    stored = case_bytes(result, tmp_path)
    plain = io.BytesIO()
    pq.write_table(result.hits, plain, compression="none")
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret.encode() not in plain.getvalue()


def test_demo_chain_email_contact_number_sim_imei_roaming(tmp_path: Path) -> None:
    """On the demo estate: e-mail -> CRM contact row -> mobile number -> SIM row
    (ICCID) -> its IMEI -> roaming notifications (one of which has no MSISDN)."""
    sources = demo_sources(
        tmp_path,
        build_databases,
        build_mobile,
        names=["crm", INVENTORY, ROAMING, BUNDLES],
    )
    result = run(sources, ("email", JAN.email.upper()))
    traces = {str(t.identifier): t for t in result.traces}
    phone = traces[f"phone:{JAN.mobile}"]
    assert (phone.depth, str(phone.parent), phone.found_in) == (
        1,
        f"email:{JAN.email}",
        "crm:contacts[id=1].mobile",
    )
    imei = traces[f"imei:{JAN.imei}"]
    assert (imei.depth, str(imei.parent), imei.found_in) == (
        2,
        f"phone:{JAN.mobile}",
        f"{INVENTORY}:{SHEET}[row=5].imei",
    )
    assert traces[f"iccid:{JAN.iccid}"].depth == 2
    assert records(result, INVENTORY) == {"row=5": ("expanded", False)}
    assert records(result, ROAMING) == {
        "message_id=R-2026-0001": ("expanded", False),
        "message_id=R-2026-0002": ("expanded", False),
        "message_id=R-2026-0004": ("expanded", False),
    }
    only_imei = hits(result).filter(pl.col("record_key") == "message_id=R-2026-0004")
    (via,) = set(only_imei["via"])
    assert via.startswith(f"email:{JAN.email} -> crm:contacts[id=1].mobile -> phone:{JAN.mobile}")
    assert f"{SHEET}[row=5]." in via
    assert set(only_imei["matched_on"]) == {f"imei:{JAN.imei}; imsi:{JAN.imsi}"}


def test_demo_search_finds_the_mobile_and_alarm_sources(tmp_path: Path) -> None:
    layout = build_estate(tmp_path / "demo")
    result = search(load_request(layout.request), load_sources(layout.sources))
    frame = hits(result)
    found = {s for s in frame["source"].unique()}
    assert {INVENTORY, ROAMING, BUNDLES, "alarm-keyholders"} <= found
    assert set(records(result, ROAMING)) == {
        "message_id=R-2026-0001",
        "message_id=R-2026-0002",
        "message_id=R-2026-0004",
    }
    statuses = {s.name: s for s in result.sources}
    for name in (INVENTORY, ROAMING, BUNDLES, "alarm-keyholders", "voip-devices"):
        assert statuses[name].status in ("ok", "skipped") and not statuses[name].truncated


def test_many_subjects_at_once_match_single_searches(mobile) -> None:
    from discover.engine import search_many

    subjects = [[("phone", JAN.mobile)], [("email", FORMER.email)], [("iccid", ZOE.iccid)]]
    batch = search_many(
        [build_request(s, request_id=f"REQ-B-{i:04d}") for i, s in enumerate(subjects)], mobile
    )
    for subject, result in zip(subjects, batch, strict=True):
        single = run(mobile, *subject)
        for source in (INVENTORY, ROAMING, BUNDLES):
            assert records(result, source) == records(single, source)
