"""Scanning a whole estate: findings per source, what the mappings miss, coverage.

The demo estate, with personal data added that its shipped mappings leave out: a
column of private e-mail addresses and a payroll table of BSNs and IBANs in the CRM
(SQLite), a column of phone numbers in a CSV, an attribute in the LDIF export.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from discover.demo.estate import build_estate
from discover.discovery.scan import SourceScan, scan
from discover.sources import load_sources


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = build_estate(tmp_path_factory.mktemp("demo"))
    with sqlite3.connect(layout.estate / "crm.sqlite") as db:
        db.execute("ALTER TABLE contacts ADD COLUMN private_mail TEXT")
        db.execute("UPDATE contacts SET private_mail = 'priv' || id || '@home.example'")
        db.execute("CREATE TABLE payroll (id INTEGER PRIMARY KEY, bsn TEXT, iban TEXT)")
        db.executemany(
            "INSERT INTO payroll VALUES (?, ?, ?)",
            [(1, "111222333", "NL91ABNA0417164300"), (2, "123456782", "NL20INGB0001234567")],
        )
    csv = layout.estate / "mobile" / "roaming-notifications.csv"
    lines = csv.read_text("utf-8").splitlines()
    lines = [lines[0] + ";Terugbelnummer", *(line + ";+31687654321" for line in lines[1:])]
    csv.write_text("\n".join(lines) + "\n", "utf-8")
    ldif = layout.estate / "acme-ad.ldif"
    text = ldif.read_text("utf-8").replace(
        "\nmail: Jan.Devries@acme-logistiek.nl\n",
        "\nmail: Jan.Devries@acme-logistiek.nl\notherMailbox: jan@home.example\n",
        1,
    )
    ldif.write_text(text, "utf-8")
    return layout.sources


@pytest.fixture(scope="module")
def results(estate: Path) -> dict[str, SourceScan]:
    return {r.name: r for r in scan(load_sources(estate), rows=100)}


def _finding(result: SourceScan, location: str, field: str):
    (found,) = [f for f in result.findings if (f.location, f.field) == (location, field)]
    return found


def test_an_unmapped_sql_column_and_table_are_reported(results: dict[str, SourceScan]) -> None:
    crm = results["crm"]
    private = _finding(crm, "contacts", "private_mail")
    assert (private.detection.type, private.mapped) == ("email", False)
    assert private.detection.examples and "@home.example" not in private.detection.examples[0]
    bsn = _finding(crm, "payroll", "bsn")
    assert (bsn.detection.type, bsn.detection.special, bsn.mapped) == ("bsn", True, False)
    assert _finding(crm, "payroll", "iban").detection.type == "iban"
    email = _finding(crm, "contacts", "email")
    assert (email.mapped, email.mapped_as) == (True, "email")
    assert 0 < crm.coverage < 1


def test_an_unmapped_csv_column_and_ldif_attribute(results: dict[str, SourceScan]) -> None:
    roaming = results["roaming-notifications"]
    extra = [f for f in roaming.unmapped if f.field == "Terugbelnummer"]
    assert [f.detection.type for f in extra] == ["phone"]
    directory = results["acme-directory"]
    assert [(f.field, f.detection.type) for f in directory.unmapped] == [("othermailbox", "email")]


def test_sources_without_gaps_are_fully_covered(results: dict[str, SourceScan]) -> None:
    for name in ("telephony", "mobile-inventory", "alarm-keyholders", "bakkerij-directory"):
        assert results[name].error is None, name
        assert results[name].personal, name
        assert results[name].coverage == 1.0, name


def test_secrets_are_never_judged_or_shown(results: dict[str, SourceScan]) -> None:
    keyholders = results["alarm-keyholders"]
    assert not [f for f in keyholders.findings if "codeword" in f.field.lower()]
    for result in results.values():
        for finding in result.findings:
            for example in finding.detection.examples if finding.detection else ():
                assert "Havenlicht" not in example


def test_one_source_and_an_unreadable_one(estate: Path, tmp_path: Path) -> None:
    config = load_sources(estate)
    (only,) = scan(config, only="telephony", rows=5)
    assert only.name == "telephony" and only.personal
    moved = estate.parent / "estate" / "telephony.sqlite"
    moved.rename(tmp_path / "away.sqlite")
    try:
        (failed,) = scan(config, only="telephony", rows=5)
    finally:
        (tmp_path / "away.sqlite").rename(moved)
    assert failed.error and "does not exist" in failed.error
    assert failed.coverage is None and failed.findings == []


def test_a_provisioning_directory_without_a_mapping_yet(estate: Path, tmp_path: Path) -> None:
    directory = estate.parent / "estate" / "provisioning"
    source = {
        "name": "prov",
        "kind": "voip",
        "mapping": "prov.yaml",  # not written yet
        "connection": {"directory": str(directory)},
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), "utf-8")
    (result,) = scan(load_sources(path, mappings_exist=False), rows=20)
    assert result.error is None
    assert result.personal and not any(f.mapped for f in result.personal)
    assert result.coverage == 0.0
