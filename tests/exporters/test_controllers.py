"""Packages name, per record, the client organisation it is held for, and no other.

The CRM holds the contacts of several client organisations (``support/two_clients``).
Eva is the contact of two of them: each of her records names its own client, in
every format. Kees is Acme's only: nothing of the bakery reaches his package. Tom's
records name a client the sources file does not list, or none: they keep the
generic wording, and the export says how many they are. A case written before hits
named their client still exports as it did then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from support.hit_rows import hit_row
from support.resealed import reseal
from support.synthetic_case import write_synthetic_case
from support.two_clients import (
    ACME,
    ACME_CONTACT,
    BAKKERIJ,
    BAKKERIJ_CONTACT,
    EVA,
    KEES,
    TOM,
    write_sources,
)

from discover.case import HITS_FILE, SUMMARY_FILE, read_case, write_case
from discover.engine import search
from discover.request import build_request
from discover.sources import load_sources
from exporters import export_package
from exporters.export import load_export_log
from tests.exporters.package_checks import (
    EVERY,
    assert_absent,
    package_bytes,
    read_package_csv,
)

ALL = ["json", "csv", "xlsx"]
GENERIC_NL = "de opdrachtgevende partij"


def _case(root: Path, identifier: tuple[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    sources = load_sources(write_sources(root), environ={})
    result = search(build_request([identifier], request_id="REQ-CLIENTS"), sources)
    write_case(result, root / "case")
    return root / "case"


@pytest.fixture(scope="module")
def eva_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _case(tmp_path_factory.mktemp("eva"), EVA)


@pytest.fixture(scope="module")
def kees_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _case(tmp_path_factory.mktemp("kees"), KEES)


@pytest.fixture(scope="module")
def tom_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _case(tmp_path_factory.mktemp("tom"), TOM)


def _records(document: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    """(location, record_key, category) -> the controller names the access JSON gives."""
    found: dict[tuple[str, str, str], set[str]] = {}
    for service in document["data"]:
        for category in service["categories"]:
            for source in category["sources"]:
                for record in source["records"]:
                    assert record["controller_name"] == category["controller_name"]
                    ref = (record["location"], record["record_key"], category["category"])
                    found.setdefault(ref, set()).add(record["controller_name"])
    return found


def _parts(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["organisation"]: p for p in document["information"]["controller"]["parts"]}


def test_each_record_names_its_own_client_in_the_access_json(
    eva_case: Path, tmp_path: Path
) -> None:
    result = export_package(eva_case, formats=ALL, out=tmp_path, **EVERY)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    records = _records(document)
    assert records[("internet_lines", "id=1", "internet.line")] == {ACME}
    assert records[("internet_lines", "id=2", "internet.line")] == {BAKKERIJ}
    assert records[("organisations", "id=1", "general.service_address")] == {ACME}
    assert records[("organisations", "id=2", "general.service_address")] == {BAKKERIJ}
    # the contact person data is the provider's own, whichever client she works for
    assert records[("contacts", "id=2", "general.contact")] == {"Bezorgsupport"}
    parts = _parts(document)
    assert parts[ACME]["contact"] == ACME_CONTACT
    assert parts[BAKKERIJ]["contact"] == BAKKERIJ_CONTACT
    assert parts[ACME]["included"] and parts[BAKKERIJ]["included"]
    assert set(parts[BAKKERIJ]["categories"]) == {
        "general.billing",
        "general.service_address",
        "internet.line",
    }
    assert not [p for p in parts if GENERIC_NL in p]
    assert result.unattributed_client_records == 0
    assert not [w for w in result.warnings if "client" in w]


def test_the_csv_xlsx_and_letter_name_both_clients_with_their_categories(
    eva_case: Path, tmp_path: Path
) -> None:
    package = export_package(eva_case, formats=ALL, out=tmp_path, **EVERY).path
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    lines = {
        c["controller_name"]: c["records"]
        for c in sidecar["categories"]
        if c["category"] == "internet.line"
    }
    assert lines == {ACME: 1, BAKKERIJ: 1}
    # each row of the line's CSV and sheet says whose it is
    (described,) = [t for t in sidecar["record_types"] if t["location"] == "internet_lines"]
    headers = {c["name"]: c["header"] for c in described["columns"]}
    frame = read_package_csv(package / "csv" / described["file"])
    rows = dict(
        zip(
            frame.get_column(headers["_record_key"]).to_list(),
            frame.get_column(headers["_controller"]).to_list(),
            strict=True,
        )
    )
    assert rows == {"id=1": ACME, "id=2": BAKKERIJ}
    # the organisation's record holds its switchboard (the provider's) and address
    (organisations,) = [t for t in sidecar["record_types"] if t["location"] == "organisations"]
    frame = read_package_csv(package / "csv" / organisations["file"])
    both = [set(v.split(" / ")) for v in frame.get_column("Verwerkingsverantwoordelijke")]
    assert sorted(both, key=sorted) == [{"Bezorgsupport", ACME}, {"Bezorgsupport", BAKKERIJ}]
    book = openpyxl.load_workbook(package / "access.xlsx", read_only=True)
    cover = "\n".join(
        str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row if c
    )
    sheet_rows = [
        row
        for sheet in book.worksheets[1:]
        for row in sheet.iter_rows(values_only=True)
        if row and ("SVC-0001" in row or "SVC-0002" in row)
    ]
    book.close()
    assert {row[0]: next(c for c in row if c in (ACME, BAKKERIJ)) for row in sheet_rows} == {
        "id=1": ACME,
        "id=2": BAKKERIJ,
    }
    letter = (package / "letter.html").read_text(encoding="utf-8")
    for text in (cover, letter):
        assert ACME in text and "privacy@acme-logistiek.nl" in text
        assert BAKKERIJ in text and "privacy@bakkerijdevries.nl" in text
        assert GENERIC_NL not in text


def test_portability_records_name_their_own_client(tmp_path: Path) -> None:
    """Two SIMs of one inventory sheet, held for two clients: one dataset, each record
    naming its own client."""

    def row(key: str, client: str) -> dict[str, Any]:
        return hit_row(
            source="mobile",
            location="sims",
            record_key=key,
            field="user_name",
            value="Eva Smit",
            identifier="name",
            category="mobile.sim",
            service="mobile",
            matched_on="email:eva.smit@smit-ict.nl",
            via="email:eva.smit@smit-ict.nl",
            origin="provided",
            client=client,
        )

    case = tmp_path / "case"
    write_synthetic_case(
        case,
        rows=[row("row=1", ACME), row("row=2", BAKKERIJ)],
        clients={
            ACME: {"name": ACME, **ACME_CONTACT},
            BAKKERIJ: {"name": BAKKERIJ, **BAKKERIJ_CONTACT},
        },
    )
    package = export_package(
        case, kind="portability", formats=["json"], out=tmp_path / "out", **EVERY
    ).path
    document = json.loads((package / "portability.json").read_text(encoding="utf-8"))
    (sims,) = document["datasets"]
    assert {r["record_key"]: r["controller_name"] for r in sims["records"]} == {
        "row=1": ACME,
        "row=2": BAKKERIJ,
    }
    assert sims["controller_name"] == f"{ACME} / {BAKKERIJ}"
    parts = {p["organisation"]: p for p in document["controllers"]["parts"]}
    assert parts[BAKKERIJ]["contact"] == BAKKERIJ_CONTACT


@pytest.mark.parametrize("controller", ["all", "provider"])
def test_another_client_of_the_same_crm_is_never_named(
    kees_case: Path, tmp_path: Path, controller: str
) -> None:
    scope = EVERY if controller == "all" else {}
    for kind in ("access", "portability"):
        result = export_package(
            kees_case,
            kind=kind,  # type: ignore[arg-type]
            formats=ALL,
            out=tmp_path / kind,
            **scope,  # type: ignore[arg-type]
        )
        if kind == "access":  # (a portability package holds none of Acme's records)
            contents = b"".join(package_bytes(result.path).values())
            assert ACME.encode() in contents and b"privacy@acme-logistiek.nl" in contents
        assert_absent(
            result.path,
            [BAKKERIJ, "Bakkerij", "bakkerijdevries", "Markt 3", "+31152123456", "Eva Smit"],
        )
    document = json.loads((tmp_path / "access").glob("*/access.json").__next__().read_text())
    assert set(_parts(document)) == {"Bezorgsupport", ACME}


def test_a_record_of_no_known_client_keeps_the_generic_wording_and_is_counted(
    tom_case: Path, tmp_path: Path
) -> None:
    result = export_package(tom_case, formats=ALL, out=tmp_path, **EVERY)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    parts = _parts(document)
    (generic,) = [p for p in parts if GENERIC_NL in p]
    assert parts[generic]["contact"] == {}
    assert set(parts) == {"Bezorgsupport", generic}  # "Café Noord" is never made a controller
    records = _records(document)
    assert records[("internet_lines", "id=4", "internet.line")] == {generic}
    assert records[("internet_lines", "id=5", "internet.line")] == {generic}
    # the café's organisation record and its two lines (one names no organisation)
    assert result.unattributed_client_records == 3
    (warning,) = [w for w in result.warnings if "client" in w]
    assert warning.startswith("3 included record(s) of client data name no known client")
    assert load_export_log(tom_case)[-1]["unattributed_client_records"] == 3


def _as_written_before_clients(case: Path) -> None:
    """The case as a search wrote it before hits named their client."""
    table = pq.read_table(case / HITS_FILE)
    pq.write_table(table.drop_columns(["client"]), case / HITS_FILE)
    summary = json.loads((case / SUMMARY_FILE).read_text(encoding="utf-8"))
    del summary["clients"]
    (case / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
    reseal(case)


def test_a_case_written_before_records_named_their_client_exports_as_before(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    _as_written_before_clients(case)
    assert "client" not in pq.read_schema(case / HITS_FILE).names
    assert set(read_case(case).hits.column("client").to_pylist()) == {None}
    result = export_package(case, formats=ALL, out=tmp_path, **EVERY)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {}
    for service in document["data"]:
        for category in service["categories"]:
            for source in category["sources"]:
                names.setdefault(source["source"], set()).add(category["controller_name"])
    # a source of one client still names it; the others' client records are generic
    assert names["acme-directory"] == {ACME}
    assert any(GENERIC_NL in name for name in names["provisioning"])
    assert ACME not in names["provisioning"]
    assert result.unattributed_client_records > 0
    # the same case as the search writes it now names Acme for the provisioning records
    fresh = export_package(demo_case, formats=["json"], out=tmp_path / "now", **EVERY)
    now = json.loads((fresh.path / "access.json").read_text(encoding="utf-8"))
    assert any(
        c["controller_name"] == ACME
        for s in now["data"]
        for c in s["categories"]
        for src in c["sources"]
        if src["source"] == "provisioning"
    )
