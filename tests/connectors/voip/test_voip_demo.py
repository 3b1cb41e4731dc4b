"""The demo's provisioning directory (discover/demo/voip.py), read by the connector.

The cast of discover/demo/people.py: each person's handset (MAC, extension) in a vendor
format; Jan's phonebook holds Zoë and Pieter, Zoë's holds Jan. The passwords are
random per build; none may reach the hits.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from voip_helpers import by_record, masked, run

from discover.demo.people import JAN, PEOPLE, PIETER, ZOE
from discover.demo.voip import build_provisioning, provisioning_files


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    import yaml

    estate = tmp_path / "estate"
    estate.mkdir()
    entries = build_provisioning(estate)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": entries}), encoding="utf-8")
    return path


def test_demo_directory_has_every_handset_in_several_vendor_formats(demo: Path) -> None:
    vendors = {}
    for person in PEOPLE:
        scope = "bakkerij" if person.organisation == "bakkerij" else "acme"
        result = run(demo, ("mac", person.mac))
        records = by_record(result.hits)
        handset = [f for ref, (_, _, f) in records.items() if f.get("mac") == person.mac]
        assert len(handset) == 1, person.key
        if person is JAN:  # registered with his direct number, as hosted lines are
            assert handset[0]["sip_number"] == "31102345201"
            assert "sip_user" not in handset[0]
        else:
            assert handset[0]["sip_user"] == f"{scope}/{person.extension}"
        assert handset[0]["display_name"] == person.name
        vendors[person.key] = handset[0]["vendor"]
    assert vendors == {
        "jan": "yealink",
        "zoe": "polycom",
        "pieter": "cisco_spa",
        "fatima": "grandstream",
        "jan-bakkerij": "snom",
    }


def test_jans_phonebook_holds_zoe_and_pieter_as_other_people(demo: Path) -> None:
    records = by_record(run(demo, ("phone", JAN.desk), ("extension", f"acme/{JAN.extension}")).hits)
    book = f"acme/{JAN.mac}-phonebook.xml"
    assert records[(f"acme/{JAN.mac}.cfg", "account 1")][:2] == ("normalised", False)
    assert records[(book, "entry 1")] == (
        "related",
        True,
        {"name": ZOE.name, "extension": "acme/202", "number": "010 234 5202"},
    )
    assert records[(book, "entry 2")] == (
        "related",
        True,
        {"name": PIETER.name, "extension": "acme/203", "number": "06-11122233"},
    )
    # and Jan in Zoë's phonebook: his own data, Zoë not named
    zoe_book = masked(f"acme/{ZOE.mac}-directory.xml")
    assert records[(zoe_book, "entry 1")] == (
        "exact",
        False,
        {"name": JAN.name, "extension": "acme/201"},
    )


def test_zoes_phonebook_holds_jan_as_another_person(demo: Path) -> None:
    records = by_record(run(demo, ("extension", f"acme/{ZOE.extension}")).hits)
    book = f"acme/{ZOE.mac}-directory.xml"
    assert {ref for ref in records if ref[0] == book} == {
        (book, "entry 1"),
        (book, "entry 2"),
        (book, "entry 3"),
    }
    assert all(records[(book, f"entry {n}")][:2] == ("related", True) for n in (1, 2, 3))
    assert records[(book, "entry 2")][2] == {
        "name": "Jan de Vries (bureau)",
        "number": "010 234 5201",
    }


def test_demo_passwords_never_reach_the_hits(demo: Path) -> None:
    directory = demo.parent / "estate" / "provisioning"
    passwords: set[str] = set()
    for relpath in provisioning_files():
        text = (directory / relpath).read_text(encoding="utf-8")
        for pattern in (
            r"password = (?:admin:)?(\S+)",
            r'password="([^"]+)"',
            r"<(?:P2|P34|Password_1_|Admin_Passwd|http_pass|user_pass)(?:\s[^>]*)?>([^<]+)<",
        ):
            passwords.update(re.findall(pattern, text))
    assert len(passwords) == 11  # 3 Yealink, 2 each for Polycom, Cisco, Grandstream, Snom
    result = run(demo, *(("mac", p.mac) for p in PEOPLE))
    values = " ".join(str(v) for row in result.hits.to_pylist() for v in row.values())
    for password in passwords:
        assert password not in values


def test_whole_demo_reaches_jans_handset_its_ip_and_keeps_passwords_out(tmp_path: Path) -> None:
    """discover demo's own search: e-mail -> directory's desk number -> Jan's handset ->
    its MAC -> the device inventory's last IP; no handset password in case or package."""
    from discover.case import write_case
    from discover.demo import build_estate
    from discover.engine import search
    from discover.request import load_request
    from discover.sources import load_sources
    from exporters import export_package

    layout = build_estate(tmp_path / "demo")
    result = search(load_request(layout.request), load_sources(layout.sources))
    records = by_record(result.hits)
    handset = records[(f"acme/{JAN.mac}.cfg", "account 1")]
    assert handset[:2] == ("expanded", False)
    assert handset[2]["mac"] == JAN.mac
    book = f"acme/{JAN.mac}-phonebook.xml"
    assert {ref for ref in records if ref[0] == book} == {(book, "entry 1"), (book, "entry 2")}
    assert all(records[(book, f"entry {n}")][:2] == ("related", True) for n in (1, 2))
    devices = [r for r in result.hits.to_pylist() if r["source"] == "voip-devices"]
    assert {r["value"] for r in devices if r["field"] == "last_ip"} == {"192.0.2.101"}
    assert {r["match"] for r in devices} == {"expanded"}

    directory = layout.estate / "provisioning"
    passwords: set[str] = set()
    for relpath in provisioning_files():
        text = (directory / relpath).read_text(encoding="utf-8")
        passwords.update(re.findall(r"password = (?:admin:)?(\S+)", text))
        passwords.update(re.findall(r'password="([^"]+)"', text))
    assert len(passwords) >= 5
    write_case(result, layout.case, force=True)
    package = export_package(
        layout.case, kind="access", formats=["json"], out=layout.packages, allow_undecided=True
    ).path
    blobs = [(layout.case / "hits.parquet").read_bytes()]
    blobs += [p.read_bytes() for p in package.rglob("*") if p.is_file()]
    for password in passwords:
        assert not any(password.encode() in blob for blob in blobs)
