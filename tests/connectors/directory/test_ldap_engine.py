"""Identity expansion through the directory: e-mail -> directory entry -> phones -> SQL rows.

A real slapd holds the Active Directory stand-in entries; a small SQLite CRM and
call-detail table hold only phone numbers (in other spellings). A search by the
e-mail that only the directory knows finds the directory entry, whose
telephoneNumber, mobile and ipPhone are searched in turn and find the SQL rows.
Then the same with the demo estate, where the directory is an LDIF export.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa
import yaml
from ldap_support import ACTIVE_DIRECTORY, AD_BASE
from support.slapd import Slapd

from discover.engine import search_many
from discover.request import build_request
from discover.sources import load_sources

SQL_MAPPING = {
    "version": 1,
    "kind": "sql",
    "tables": {
        "contacts": {
            "key": "id",
            "category": "general.contact",
            "columns": {"id": {}, "full_name": {}, "phone": {"identifier": "phone"}},
        },
        "cdr": {
            "key": "id",
            "category": "usage.calls",
            "entity": "event",
            "columns": {
                "id": {},
                "calling": {"identifier": "phone", "third_party": True},
                "called": {"identifier": "phone", "third_party": True},
            },
        },
    },
}


def _estate(tmp_path: Path, slapd: Slapd) -> Path:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE contacts (id INTEGER, full_name TEXT, phone TEXT)")
        )
        connection.execute(sa.text("CREATE TABLE cdr (id INTEGER, calling TEXT, called TEXT)"))
        connection.execute(
            sa.text(
                "INSERT INTO contacts VALUES"
                " (1, 'J. de Vries', '06-1234 5678'), (2, 'X', '0201234567')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO cdr VALUES (1, '31102345201', '31201234567'),"
                " (2, '31881234567', '31201234567'), (3, '31201234567', '31102345299')"
            )
        )
    engine.dispose()
    (tmp_path / "crm.yaml").write_text(yaml.safe_dump(SQL_MAPPING))
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "settings": {"max_depth": 2},
                "sources": [
                    {
                        "name": "directory",
                        "kind": "ldap",
                        "mapping": str(ACTIVE_DIRECTORY),
                        "connection": {
                            "url": slapd.url,
                            "base_dn": AD_BASE,
                            "bind_dn": slapd.rootdn,
                            "password": "${TEST_LDAP_PASSWORD}",
                        },
                    },
                    {
                        "name": "crm",
                        "kind": "sql",
                        "mapping": "crm.yaml",
                        "connection": {"url": "sqlite:///crm.sqlite"},
                    },
                ],
            }
        )
    )
    return sources


def test_email_finds_the_directory_entry_whose_phones_find_sql_rows(
    slapd: Slapd, tmp_path: Path
) -> None:
    sources = load_sources(_estate(tmp_path, slapd), environ={"TEST_LDAP_PASSWORD": slapd.rootpw})
    request = build_request([("email", "Jan.DeVries@ACME-logistiek.nl")], request_id="REQ-DIR-1")
    (result,) = search_many([request], sources)
    assert result.complete, [s.to_document() for s in result.sources]
    hits = result.hits.to_pylist()
    directory = [h for h in hits if h["source"] == "directory" and h["field"] == "dn"]
    assert [h["value"] for h in directory if h["match"] != "related"] == [
        "cn=Jan de Vries,ou=Users,ou=acme,dc=example,dc=org"
    ]
    rows = {(h["location"], h["record_key"]): h for h in hits if h["source"] == "crm"}
    # contacts.phone "06-1234 5678" (the directory's mobile), cdr 1 (telephoneNumber /
    # ipPhone / msRTCSIP-Line +31102345201) and cdr 3 (otherTelephone 010-234 5299)
    assert set(rows) == {("contacts", "id=1"), ("cdr", "id=1"), ("cdr", "id=3")}
    assert {h["match"] for h in rows.values()} == {"expanded"}
    via = rows[("contacts", "id=1")]["via"]
    assert via.startswith("email:jan.devries@acme-logistiek.nl -> directory:")
    assert via.endswith(".mobile -> phone:+31612345678")
    # the other party of a call is redacted, the subject's own number is not
    cdr = [h for h in hits if h["source"] == "crm" and h["location"] == "cdr"]
    assert {h["value"]: h["third_party"] for h in cdr if h["field"] == "called"} == {
        "31201234567": True,
        "31102345299": False,
    }


def test_demo_directory_expands_into_telephony(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from discover.cli import cli

    out = tmp_path / "demo"
    done = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert done.exit_code in (0, 1), done.output
    sources = yaml.safe_load((out / "sources.yaml").read_text())["sources"]
    kinds = {s["name"]: s["kind"] for s in sources}
    assert kinds["acme-directory"] == kinds["bakkerij-directory"] == "ldif"
    hits = pq.read_table(out / "case" / "hits.parquet").to_pylist()
    acme = [h for h in hits if h["source"] == "acme-directory"]
    jan = {h["field"]: h for h in acme if h["match"] in ("exact", "normalised")}
    assert jan["dn"]["value"] == "CN=Jan de Vries,OU=Management,OU=Acme,DC=acme,DC=local"
    assert jan["jpegPhoto"]["value_type"] == "binary"
    assert (
        jan["jpegPhoto"]["value"].startswith("<binary: ") and "sha256" in jan["jpegPhoto"]["value"]
    )
    assert jan["manager"]["third_party"]
    assert [h["value"] for h in acme if h["field"] == "ipPhone"] == ["010-2345201"]
    # the namesake at the bakery is only a possible match (by name)
    assert {h["match"] for h in hits if h["source"] == "bakkerij-directory"} == {"possible"}
    assert all(h["value"] is None for h in hits if h["field"] == "userPassword")
    # telephony rows reached through the directory's mobile number
    via_directory = [
        h for h in hits if h["source"] == "telephony" and "acme-directory:" in h["via"]
    ]
    assert via_directory and {h["match"] for h in via_directory} == {"expanded"}
