"""Each package compared with its case exactly, in every format.

Every included hit appears exactly once with its value (or withheld / redacted),
nothing excluded appears, no secret or other person's value appears in any byte of
any file (XLSX members decompressed), and a portability package holds no
legal-obligation or legitimate-interest data. Built on the demo's real case and on
a constructed case whose secret hits wrongly carry values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from package_checks import (
    EVERY,
    Expected,
    assert_absent,
    csv_fields,
    expected_fields,
    json_access_fields,
    json_portability_fields,
    non_null,
    xlsx_fields,
)
from support.synthetic_case import SECRET_PREFIX, THIRD_PARTY_PREFIX

from discover.case import read_case
from discover.errors import ExportError
from discover.policy import select_hits
from discover.register import default_register
from discover.review import load_decisions, new_decision, record_decisions
from exporters import export_package, verify_package
from exporters.export import load_export_log
from exporters.tables import record_types
from exporters.xlsx_export import sheet_names

ALL = ["json", "csv", "xlsx"]
MARKERS = {"[achtergehouden]", "[weggelaten]", "[withheld]", "[left out]"}


def _check_table_cells(found: dict[Any, list[Any]], expected: Expected, what: str) -> None:
    """Non-empty cells per field against the expected values (markers count as empty)."""
    for ref, values in expected.fields.items():
        shown = [v for v in values if v is not None]
        cells = [v for v in found.get(ref, []) if v not in MARKERS]
        assert len(cells) == len(shown), f"{what}: {ref}: {cells!r} for {values!r}"
    extra = set(found) - set(expected.fields)
    assert not extra, f"{what}: fields not in the selection: {sorted(extra)[:5]}"


def _matches(
    expected: list[str | None], cells: list[Any], same: Callable[[str, Any], bool]
) -> bool:
    wanted = [v for v in expected if v is not None]
    cells = [c for c in cells if c not in MARKERS]
    return len(wanted) == len(cells) and all(any(same(w, c) for c in cells) for w in wanted)


def _same_value(expected: str, cell: Any) -> bool:
    if isinstance(cell, str):
        return cell == expected
    if isinstance(cell, bool):
        return str(cell).lower() == expected
    if isinstance(cell, int | float):
        return float(expected) == float(cell)
    if isinstance(cell, datetime):
        parsed = datetime.fromisoformat(expected.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return abs((parsed - cell).total_seconds()) < 1e-3
    return False


def check_package(
    package: Path, case: Path, kind: str, expected: Expected, controller: str = "all"
) -> None:
    assert verify_package(package) == []
    # JSON
    document = json.loads((package / f"{kind}.json").read_text(encoding="utf-8"))
    if kind == "access":
        found = json_access_fields(document)
        seen: dict[Any, list[Any]] = {}
        for (ref, value), count in found.items():
            seen.setdefault(ref, []).extend([value] * count)
        assert set(seen) == set(expected.fields), "json: other fields than the selection"
        for ref, values in seen.items():
            # each included hit exactly once: the same multiset of values
            assert sorted(values, key=str) == sorted(expected.fields[ref], key=str), ref
    else:
        cells = non_null(json_portability_fields(document))
        _check_table_cells(cells, expected, "json")
        for ref, values in cells.items():
            assert _matches(expected.fields[ref], values, str.__eq__), f"json: {ref}"
    # CSV: loads back with polars to the same rows
    cells = non_null(csv_fields(package))
    _check_table_cells(cells, expected, "csv")
    for ref, values in cells.items():
        assert _matches(expected.fields[ref], values, str.__eq__), f"csv: {ref}"
    # XLSX: typed cells
    selection = select_hits(
        read_case(case).hits,
        kind=kind,  # type: ignore[arg-type]
        controller=controller,  # type: ignore[arg-type]
        decisions=load_decisions(case),
        own_use_categories=default_register().own_use_categories(),
        masked_categories=default_register().masked_categories(),
    )
    tables = record_types(selection.hits, kind=kind)  # type: ignore[arg-type]
    language = document["language"]
    titles = {c.id: c.named(language) for c in default_register().categories.values()}
    reserved = ["Voorblad", "Velden", "pakket", "Cover", "Fields", "package"]
    names = sheet_names(tables, reserved, titles)
    sheets = {n: (t.source, t.location) for t, n in zip(tables, names, strict=True)}
    fields = {n: [c.field for c in t.columns] for t, n in zip(tables, names, strict=True)}
    cells = non_null(xlsx_fields(package / f"{kind}.xlsx", sheets, fields))
    _check_table_cells(cells, expected, "xlsx")
    for ref, values in cells.items():
        assert _matches(expected.fields[ref], values, _same_value), f"xlsx: {ref}: {values!r}"
    # nothing hidden in any byte
    assert_absent(package, expected.hidden_values)
    if kind == "portability":
        assert expected.legal_categories.isdisjoint(
            {"general.traffic_data", "general.call_recordings", "web.analytics"}
        )
        text = (package / "portability.json").read_text(encoding="utf-8")
        for category in ("general.traffic_data", "general.call_recordings", "web.analytics"):
            assert category not in text


@pytest.mark.parametrize("kind", ["access", "portability"])
def test_demo_package_matches_the_case(demo_case: Path, tmp_path: Path, kind: str) -> None:
    package = export_package(demo_case, kind=kind, formats=ALL, out=tmp_path, **EVERY).path  # type: ignore[arg-type]
    expected = expected_fields(demo_case, kind=kind)
    assert expected.fields, "the demo case must have included hits"
    check_package(package, demo_case, kind, expected)
    # the demo's real secrets are in its databases and never in a package
    assert_absent(package, ["Pp0e-Acme!2026", "Bakk3rij#Line", "$argon2id$"])


@pytest.mark.parametrize("kind", ["access", "portability"])
def test_synthetic_package_never_writes_leaked_secrets(
    synthetic_case: Path, tmp_path: Path, kind: str
) -> None:
    package = export_package(synthetic_case, kind=kind, formats=ALL, out=tmp_path, **EVERY).path  # type: ignore[arg-type]
    expected = expected_fields(synthetic_case, kind=kind)
    check_package(package, synthetic_case, kind, expected)
    assert_absent(package, [SECRET_PREFIX])
    # the other party of a call is shown as on an itemised bill: never in full
    assert_absent(package, [f"{THIRD_PARTY_PREFIX}{i:08d}" for i in range(0, 1500, 7)])
    if kind == "portability":
        # legal-obligation traffic data and legitimate-interest web statistics
        assert_absent(package, ["100.64.", "/support/", "v-00000"])


def test_review_decisions_are_applied_and_recorded(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    hits = read_case(case).hits.to_pylist()
    possible = sorted(
        {
            (h["source"], h["location"], h["record_key"])
            for h in hits
            if h["match"] == "possible" and not h["third_party"]
        }
    )
    strong = sorted(
        {(h["source"], h["location"], h["record_key"]) for h in hits if h["match"] != "possible"}
    )
    confirmed, excluded = possible[0], strong[0]
    decisions = [
        new_decision(
            confirmed, "confirm", reason="same person, checked by phone", decided_by="A. Jansen"
        ),
        new_decision(excluded, "exclude", reason="shared mailbox", decided_by="A. Jansen"),
    ]
    record_decisions(case, decisions)
    result = export_package(case, kind="access", formats=ALL, out=tmp_path, **EVERY)
    expected = expected_fields(case, kind="access", decisions=decisions)
    assert confirmed in expected.records and excluded not in expected.records
    check_package(result.path, case, "access", expected)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    applied = {
        (d["source"], d["location"], d["record_key"], d["action"])
        for d in document["decisions_applied"]
    }
    assert applied == {(*confirmed, "confirm"), (*excluded, "exclude")}
    # the reasons and the reviewer stay with staff, in the case's export log
    assert "shared mailbox" not in json.dumps(document)
    log = load_export_log(case)
    assert log[-1]["decisions_applied"][0]["decided_by"] == "A. Jansen"
    assert {d["reason"] for d in log[-1]["decisions_applied"]} == {
        "same person, checked by phone",
        "shared mailbox",
    }


@pytest.mark.parametrize("controller", ["provider", "client"])
def test_controller_split(demo_case: Path, tmp_path: Path, controller: str) -> None:
    extra = {} if controller == "provider" else {"client_instruction": "ACME-2026-17"}
    result = export_package(
        demo_case,
        kind="access",
        formats=ALL,
        out=tmp_path,
        controller=controller,  # type: ignore[arg-type]
        allow_undecided=True,
        **extra,  # type: ignore[arg-type]
    )
    assert result.path.name.endswith(f"-access-{controller}")
    expected = expected_fields(demo_case, kind="access", controller=controller)
    check_package(result.path, demo_case, "access", expected, controller)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    for service in document["data"]:
        for category in service["categories"]:
            assert category["controller"] == controller
    parts = {p["organisation"]: p for p in document["information"]["controller"]["parts"]}
    # every controller is named, whether or not its data is in this package
    assert {"Bezorgsupport", "Acme Logistiek B.V."} <= set(parts)
    assert parts["Acme Logistiek B.V."]["included"] is (controller == "client")
    assert parts["Acme Logistiek B.V."]["contact"]["privacy_contact"] == "privacy@acme-logistiek.nl"
    assert "Bezorgsupport" in document["information"]["controller"]["scope"]
    log = load_export_log(demo_case)[-1]
    assert log["client_instruction"] == extra.get("client_instruction")


def test_default_package_names_each_client_as_controller(demo_case: Path, tmp_path: Path) -> None:
    result = export_package(demo_case, formats=["json"], out=tmp_path, allow_undecided=True)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    assert document["controller_scope"] == "provider"
    names = {c["controller_name"] for s in document["data"] for c in s["categories"]}
    assert names == {"Bezorgsupport"}
    parts = {p["organisation"]: p for p in document["information"]["controller"]["parts"]}
    acme = parts["Acme Logistiek B.V."]
    assert acme["included"] is False and acme["processor"] == "Bezorgsupport"
    # its directory, and the records the CRM, the provisioning directory and the
    # inventories name it in: its line, its address, the subject's handset and SIM
    assert {
        "managed_it.directory",
        "internet.line",
        "general.service_address",
        "voip.handset",
        "mobile.sim",
    } <= set(acme["categories"])
    # the keyholder list names no client: its records stay with "the client organisation"
    assert "alarm.keyholder" not in acme["categories"]
    assert "privacy@acme-logistiek.nl" in acme["statement"]
    assert "Richt uw verzoek" in acme["statement"]
    # no client's source or record leaks into the provider's package
    text = json.dumps(document)
    assert "acme-directory" not in text and "bakkerij" not in text.lower()


def test_a_confirmed_namesake_is_filed_under_its_own_client(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    hits = read_case(case).hits.to_pylist()
    namesake = sorted(
        {
            (h["source"], h["location"], h["record_key"])
            for h in hits
            if h["source"] == "bakkerij-directory" and h["match"] == "possible"
        }
    )[0]
    record_decisions(case, [new_decision(namesake, "confirm", reason="checked", decided_by="A")])
    result = export_package(case, formats=["json"], out=tmp_path, **EVERY)
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    owners: dict[str, set[tuple[str, str]]] = {}
    for service in document["data"]:
        for category in service["categories"]:
            for source in category["sources"]:
                for record in source["records"]:
                    pair = (category["controller_name"], record["controller_name"])
                    owners.setdefault(source["source"], set()).add(pair)
    assert owners["bakkerij-directory"] == {("Bakkerij De Vries", "Bakkerij De Vries")}
    assert owners["acme-directory"] == {("Acme Logistiek B.V.", "Acme Logistiek B.V.")}
    assert ("Bezorgsupport", "Bezorgsupport") in owners["telephony"]


def test_existing_package_is_never_overwritten_without_force(
    demo_case: Path, tmp_path: Path
) -> None:
    first = export_package(demo_case, formats=["json"], out=tmp_path, allow_undecided=True).path
    before = (first / "manifest.json").read_bytes()
    with pytest.raises(ExportError, match="--force"):
        export_package(demo_case, formats=["json", "csv"], out=tmp_path, allow_undecided=True)
    assert (first / "manifest.json").read_bytes() == before
    second = export_package(
        demo_case, formats=["json", "csv"], out=tmp_path, force=True, allow_undecided=True
    ).path
    assert second == first and verify_package(second) == []
    assert (second / "csv" / "metadata.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no staging left over


def test_files_are_private(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(
        demo_case, formats=ALL, kind="portability", out=tmp_path, allow_undecided=True
    ).path
    for path in [package, *package.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_incomplete_case_says_so(tmp_path: Path) -> None:
    from support.synthetic_case import write_synthetic_case

    case = tmp_path / "case"
    write_synthetic_case(case, 200, failed_source="acme-directory")
    result = export_package(case, formats=ALL, out=tmp_path / "out")
    assert not result.complete
    document = json.loads((result.path / "access.json").read_text(encoding="utf-8"))
    assert document["request"]["complete"] is False
    assert document["request"]["sources_failed"] == [
        {"source": "acme-directory", "error": "connection refused"}
    ]
    assert "notice" in document


@pytest.mark.parametrize("kind", ["access", "portability"])
def test_a_case_without_hits_still_gives_a_complete_package(tmp_path: Path, kind: str) -> None:
    from support.synthetic_case import write_synthetic_case

    case = tmp_path / "case"
    write_synthetic_case(case, rows=[])
    result = export_package(case, kind=kind, formats=ALL, out=tmp_path / "out")  # type: ignore[arg-type]
    assert verify_package(result.path) == []
    assert result.selection.hits.num_rows == 0
    assert (result.path / f"{kind}.xlsx").is_file()


def test_another_clients_source_is_never_named_without_its_records(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    hits = read_case(case).hits.to_pylist()
    namesakes = sorted(
        {
            (h["source"], h["location"], h["record_key"])
            for h in hits
            if h["source"] == "bakkerij-directory"
        }
    )
    decisions = [new_decision(r, "exclude", reason="namesake", decided_by="A") for r in namesakes]
    record_decisions(case, decisions)
    package = export_package(case, formats=ALL, out=tmp_path, **EVERY).path
    assert_absent(package, ["bakkerij-directory", "bakkerij-ldap", "Bakkerij De Vries"])
