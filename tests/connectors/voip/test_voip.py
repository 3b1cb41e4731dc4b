"""VoIP provisioning connector: exact hits per subject in every vendor format.

The fixture directory (tests/connectors/fixtures/voip/provisioning) holds, for client
Acme, Jan's Yealink, Zoë's Polycom (master + part), Pieter's Cisco SPA and Fatima's
Grandstream, each with a personal phonebook in the vendor's format, plus Acme's
shared Polycom company directory; and for Bakkerij De Vries the namesake Jan's Snom
with its phonebook inside its settings. Searches run through the real engine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from voip_helpers import FIXTURE_SECRETS, PROVISIONING, by_record, masked, run, sources_file

from discover.case import write_case

JAN_YEALINK = {
    "mac": "001565abcd01",
    "vendor": "yealink",
    "line": "1",
    "sip_user": "acme/201",
    "auth_user": "acme201",
    "sip_password": None,
    "display_name": "Jan de Vries",
    "label": "Jan 201",
    "sip_server": "sip.acme.example.net",
    "phonebook_url": "https://prov.example.net/acme/001565abcd01-phonebook.xml",
    "provisioning_url": "https://prov.example.net/acme/",
    "provisioning_user": "acme-prov",
    "provisioning_password": None,
    "admin_password": None,
}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    return sources_file(tmp_path, PROVISIONING)


def test_jan_yealink_exact_hits(sources: Path) -> None:
    """Extension and both numbers: his handset, his phonebook (others), his entries elsewhere."""
    result = run(
        sources,
        ("extension", "acme/201"),
        ("phone", "+31612345678"),
        ("phone", "010-2345201"),
    )
    assert result.complete
    records = by_record(result.hits)
    own_book = "acme/001565abcd01-phonebook.xml"
    assert records == {
        ("acme/001565abcd01.cfg", "account 1"): ("exact", False, JAN_YEALINK),
        # his own phonebook: other people, reached through his handset
        (own_book, "entry 1"): (
            "related",
            True,
            {"name": "Zoë Çelik", "number": "+31 6 87654321", "extension": "acme/202"},
        ),
        (own_book, "entry 2"): (
            "related",
            True,
            {"name": "Pieter Bakker", "number": "06-11122233", "extension": "acme/203"},
        ),
        # his entries in other people's phonebooks: his data, the owner not named
        (masked("acme/0015.65ab.cd02-directory.xml"), "entry 1"): (
            "exact",
            False,
            {"name": "Jan de Vries", "extension": "acme/201"},
        ),
        (masked("acme/0015.65ab.cd02-directory.xml"), "entry 2"): (
            "normalised",
            False,
            {"name": "Jan de Vries (mobiel)", "number": "06-12345678"},
        ),
        (masked("acme/pieter-directory.xml"), "entry 1"): (
            "normalised",
            False,
            {"name": "Jan de Vries (bureau)", "number": "+31 10 234 5201"},
        ),
        (masked("acme/gs_phonebook_001565ABCD04.xml"), "entry 1"): (
            "exact",
            False,
            {
                "name": "Jan de Vries",
                "number": "0031 6 1234 5678",
                "extension": "acme/201",
                "organisation": "Acme Logistiek B.V.",
            },
        ),
        # the company directory every phone shares
        (masked("acme/000000000000-directory.xml"), "entry 2"): (
            "exact",
            False,
            {"name": "Jan de Vries", "extension": "acme/201"},
        ),
    }
    # the extension expanded to the handset's MAC
    traces = {str(t.identifier): t for t in result.traces}
    assert traces["mac:001565abcd01"].parent is not None
    assert str(traces["mac:001565abcd01"].parent) == "extension:acme/201"


def test_zoe_polycom_master_and_part(sources: Path) -> None:
    """The MAC comes from the master's name (00-15-65-AB-CD-02.cfg); CONFIG_FILES joins its part."""
    records = by_record(run(sources, ("extension", "acme/202")).hits)
    own_book = "acme/0015.65ab.cd02-directory.xml"
    assert records == {
        ("acme/phone202.cfg", "account 1"): (
            "exact",
            False,
            {
                "mac": "001565abcd02",
                "vendor": "polycom",
                "line": "1",
                "sip_user": "acme/202",
                "auth_user": "acme202",
                "sip_password": None,
                "display_name": "Zoë Çelik",
                "label": "Zoë",
                "sip_server": "sip.acme.example.net",
                "provisioning_url": "prov.example.net/acme",
                "provisioning_user": "acme-prov",
                "provisioning_password": None,
            },
        ),
        (own_book, "entry 1"): ("related", True, {"name": "Jan de Vries", "extension": "acme/201"}),
        (own_book, "entry 2"): (
            "related",
            True,
            {"name": "Jan de Vries (mobiel)", "number": "06-12345678"},
        ),
        (masked("acme/001565abcd01-phonebook.xml"), "entry 1"): (
            "exact",
            False,
            {"name": "Zoë Çelik", "number": "+31 6 87654321", "extension": "acme/202"},
        ),
        (masked("acme/000000000000-directory.xml"), "entry 3"): (
            "exact",
            False,
            {"name": "Zoë Çelik", "extension": "acme/202"},
        ),
    }


def test_pieter_cisco_spa(sources: Path) -> None:
    """Found by MAC in any notation; the provisioning URL's password is withheld."""
    records = by_record(run(sources, ("mac", "00:15:65:AB:CD:03")).hits)
    own_book = "acme/pieter-directory.xml"
    assert records == {
        ("acme/spa001565abcd03.xml", "account 1"): (
            "exact",
            False,
            {
                "mac": "001565abcd03",
                "vendor": "cisco_spa",
                "station_name": "Pieter Bakker",
                "line": "1",
                "sip_user": "acme/203",
                "auth_user": "acme203",
                "sip_password": None,
                "display_name": "Pieter Bakker",
                "sip_server": "sip.acme.example.net",
                "phonebook_url": "http://prov.example.net/acme/pieter-directory.xml",
                "provisioning_url": "https://acme-prov:(withheld)@prov.example.net/acme/spa$MA.xml",
                "admin_password": None,
                "user_password": None,
            },
        ),
        (own_book, "entry 1"): (
            "related",
            True,
            {"name": "Jan de Vries (bureau)", "number": "+31 10 234 5201"},
        ),
        (own_book, "entry 2"): (
            "related",
            True,
            {"name": "Fatima El Amrani", "extension": "acme/204"},
        ),
        # the extension found on the handset is searched in turn: his entry in Jan's book
        (masked("acme/001565abcd01-phonebook.xml"), "entry 2"): (
            "expanded",
            False,
            {"name": "Pieter Bakker", "number": "06-11122233", "extension": "acme/203"},
        ),
    }


def test_fatima_grandstream_mac_from_content(sources: Path) -> None:
    """fatima.xml has no MAC in its name: <mac> gives it, and the phonebook joins by MAC."""
    records = by_record(run(sources, ("extension", "acme/204")).hits)
    own_book = "acme/gs_phonebook_001565ABCD04.xml"
    assert records == {
        ("acme/fatima.xml", "account 1"): (
            "exact",
            False,
            {
                "mac": "001565abcd04",
                "vendor": "grandstream",
                "line": "1",
                "sip_user": "acme/204",
                "auth_user": "acme204",
                "sip_password": None,
                "display_name": "Fatima El Amrani",
                "label": "Fatima",
                "sip_server": "sip.acme.example.net",
                "phonebook_url": "prov.example.net/acme",
                "provisioning_url": "prov.example.net/acme",
                "admin_password": None,
                "user_password": None,
            },
        ),
        (own_book, "entry 1"): (
            "related",
            True,
            {
                "name": "Jan de Vries",
                "number": "0031 6 1234 5678",
                "extension": "acme/201",
                "organisation": "Acme Logistiek B.V.",
            },
        ),
        (masked("acme/pieter-directory.xml"), "entry 2"): (
            "exact",
            False,
            {"name": "Fatima El Amrani", "extension": "acme/204"},
        ),
    }


def test_namesake_snom_with_embedded_phonebook(sources: Path) -> None:
    """The other Jan de Vries: Snom settings with <tbook> inside; scope bakkerij."""
    records = by_record(run(sources, ("extension", "bakkerij/10")).hits)
    book = "bakkerij/0004F2AA0010.xml#tbook"
    assert records == {
        ("bakkerij/0004F2AA0010.xml", "account 1"): (
            "exact",
            False,
            {
                "mac": "0004f2aa0010",
                "vendor": "snom",
                "line": "1",
                "sip_user": "bakkerij/10",
                "auth_user": "bakkerij10",
                "sip_password": None,
                "display_name": "Jan de Vries",
                "label": "Bakkerij",
                "sip_server": "sip.bakkerij.example.net",
                "provisioning_url": "https://prov.example.net/bakkerij/",
                "provisioning_user": "bakkerij-prov",
                "provisioning_password": None,
                "admin_password": None,
            },
        ),
        (book, "entry 1"): ("related", True, {"name": "Marloes de Vries", "number": "06-55501299"}),
        (book, "entry 2"): (
            "related",
            True,
            {"name": "Bakkerij winkel", "extension": "bakkerij/11"},
        ),
    }


def test_unscoped_extension_is_weak_and_only_possible(sources: Path) -> None:
    """'201' alone exists at every client: it finds Acme's 201 as possible, never expands."""
    result = run(sources, ("extension", "201"))
    records = by_record(result.hits)
    assert {ref: (match, third) for ref, (match, third, _) in records.items()} == {
        ("acme/001565abcd01.cfg", "account 1"): ("possible", False),
        ("acme/001565abcd01-phonebook.xml", "entry 1"): ("possible", True),
        ("acme/001565abcd01-phonebook.xml", "entry 2"): ("possible", True),
        (masked("acme/0015.65ab.cd02-directory.xml"), "entry 1"): ("possible", False),
        (masked("acme/gs_phonebook_001565ABCD04.xml"), "entry 1"): ("possible", False),
        (masked("acme/000000000000-directory.xml"), "entry 2"): ("possible", False),
    }
    assert [str(t.identifier) for t in result.traces] == ["extension:201"]  # no expansion
    result = run(sources, ("name", "Jan de Vries"))
    records = by_record(result.hits)
    assert {match for match, _, _ in records.values()} == {"possible"}
    assert ("acme/001565abcd01.cfg", "account 1") in records
    assert ("bakkerij/0004F2AA0010.xml", "account 1") in records  # the namesake
    assert [str(t.identifier) for t in result.traces] == ["name:jan de vries"]


def test_third_party_rows_exactly(sources: Path) -> None:
    """Which rows are third_party: exactly the entries of the subject's own phonebook."""
    hits = run(sources, ("extension", "acme/201"), ("phone", "+31612345678")).hits
    third = {
        (row["location"], row["record_key"], row["field"])
        for row in hits.to_pylist()
        if row["third_party"]
    }
    own_book = "acme/001565abcd01-phonebook.xml"
    assert third == {
        (own_book, "entry 1", "name"),
        (own_book, "entry 1", "number"),
        (own_book, "entry 1", "extension"),
        (own_book, "entry 2", "name"),
        (own_book, "entry 2", "number"),
        (own_book, "entry 2", "extension"),
    }


def test_owner_of_a_phonebook_is_never_disclosed(sources: Path) -> None:
    """Jan's entries in Zoë's, Pieter's and Fatima's phonebooks name none of them.

    The location is the client and an opaque token, not the file (whose name holds the
    owner's MAC); the record holds the entry's fields only, never the owner's.
    """
    rows = run(sources, ("extension", "acme/201"), ("phone", "+31612345678")).hits.to_pylist()
    entries = [r for r in rows if r["category"] == "voip.contacts" and not r["third_party"]]
    assert len({(r["location"], r["record_key"]) for r in entries}) == 4
    jan = {"Jan de Vries", "Jan de Vries (mobiel)", "acme/201", "06-12345678", "0031 6 1234 5678"}
    for row in entries:
        assert re.fullmatch(r"acme/phonebook-[0-9a-f]{12}", row["location"])
        assert row["value"] in jan | {"Acme Logistiek B.V."}
        assert row["field"] in {"name", "number", "extension", "organisation"}
        assert row["via"] in {"extension:acme/201", "phone:+31612345678"}


def test_no_secret_in_hits_nor_in_the_case_file(tmp_path: Path, sources: Path) -> None:
    """Every handset searched at once: secrets are flagged, withheld, absent from Parquet bytes."""
    result = run(
        sources,
        ("extension", "acme/201"),
        ("extension", "acme/202"),
        ("extension", "acme/203"),
        ("extension", "acme/204"),
        ("extension", "bakkerij/10"),
    )
    rows = result.hits.to_pylist()
    secret_fields = {
        "sip_password",
        "provisioning_password",
        "admin_password",
        "user_password",
    }
    flagged = {(r["location"], r["field"]) for r in rows if r["secret"]}
    assert {field for _, field in flagged} == secret_fields
    assert all(r["value"] is None for r in rows if r["secret"])
    assert len(flagged) == 14  # each password of each handset, reported as present
    values = " ".join(str(v) for r in rows for v in r.values())
    for secret in FIXTURE_SECRETS:
        assert secret not in values
    case = tmp_path / "case"
    write_case(result, case, force=True)
    raw = (case / "hits.parquet").read_bytes()
    text = " ".join(
        str(v) for row in pq.read_table(case / "hits.parquet").to_pylist() for v in row.values()
    )
    for secret in FIXTURE_SECRETS:
        assert secret.encode() not in raw
        assert secret not in text


def test_batch_of_many_identifiers_reads_each_file_once(tmp_path: Path) -> None:
    """Thousands of identifiers in one scan; without the persistent index, the in-memory
    index is reused until a file changes."""
    from connectors import load_mapping
    from connectors.voip.connector import VoipConnector
    from discover.identifiers import Identifier
    from discover.register import default_register
    from discover.sources import load_sources

    sources = load_sources(sources_file(tmp_path, PROVISIONING, connection={"index": False}))
    register = default_register()
    mapping = load_mapping(sources.sources[0].mapping_path, register).model
    connector = VoipConnector(sources.sources[0], mapping, register, sources.settings)
    noise = [Identifier("extension", f"acme/{n}") for n in range(1000, 6000)]
    wanted = [
        Identifier("extension", "acme/201"),
        Identifier("mac", "001565abcd03"),
        Identifier("phone", "+31655501299"),
    ]
    first = connector.scan([*noise, *wanted])
    assert first.rows_read == 17  # 5 handset accounts + 12 phonebook entries, parsed once
    matched = {(r.location, r.key) for r in first.records if r.matches}
    assert matched == {
        ("acme/001565abcd01.cfg", "account 1"),
        (masked("acme/0015.65ab.cd02-directory.xml"), "entry 1"),
        (masked("acme/gs_phonebook_001565ABCD04.xml"), "entry 1"),
        (masked("acme/000000000000-directory.xml"), "entry 2"),
        ("acme/spa001565abcd03.xml", "account 1"),
        (masked("bakkerij/0004F2AA0010.xml#tbook"), "entry 1"),
    }
    second = connector.scan(wanted)
    assert second.rows_read == 0  # nothing changed: not parsed again
    assert {(r.location, r.key) for r in second.records if r.matches} == matched
