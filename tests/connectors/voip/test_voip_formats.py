"""Vendor formats and notations beyond the main fixture: each written as documented.

MAC notations in file names, Polycom ``<mac>-registration.cfg``, Yealink's
``<YealinkIPPhoneBook>``, Snom's legacy ``user_name1`` and version-2 ``<tbook>``
contacts in a file named by ``<setting-files>``, Grandstream version-2 items, shared
phonebooks and shared configuration parts, and the client scope of extensions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from voip_helpers import by_record, masked, run, sources_file

from connectors.voip.files import mac_from_name
from connectors.voip.index import phone_tail
from discover.identifiers import try_normalise


@pytest.mark.parametrize(
    ("name", "mac"),
    [
        ("001565abcd01.cfg", "001565abcd01"),
        ("001565ABCD01.cfg", "001565abcd01"),
        ("00-15-65-AB-CD-01.cfg", "001565abcd01"),
        ("00:15:65:ab:cd:01.cfg", "001565abcd01"),
        ("0015.65ab.cd01-registration.cfg", "001565abcd01"),
        ("001565abcd01-directory.xml", "001565abcd01"),
        ("acme/sub/001565abcd01-phonebook.xml", "001565abcd01"),
        ("SEP001565ABCD01.cnf.xml", "001565abcd01"),
        ("spa001565abcd01.xml", "001565abcd01"),
        ("cfg001565abcd01.xml", "001565abcd01"),
        ("gs_phonebook_001565abcd01.xml", "001565abcd01"),
        ("000000000000-directory.xml", None),  # Polycom's file for every phone
        ("phone202.cfg", None),
        ("y000000000028.cfg", None),
        ("0015651234.cfg", None),  # too short
        ("a001565abcd01b.cfg", None),  # hex run of 14: not a MAC
    ],
)
def test_mac_from_file_name_in_any_notation(name: str, mac: str | None) -> None:
    assert mac_from_name(name, ("spa", "sep", "cfg", "gs_phonebook_")) == mac


def write(directory: Path, relpath: str, text: str) -> None:
    path = directory / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_polycom_registration_file_and_yealink_phonebook(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    write(
        prov,
        "acme/0004f2000301-registration.cfg",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<polycomConfig reg.1.address="301" reg.1.auth.userId="acme301" '
        'reg.1.auth.password="Sip-Secret-301" reg.1.displayName="Anna Smit" reg.1.label="Anna"'
        ' reg.2.address="" reg.2.label=""/>\n',
    )
    write(
        prov,
        "acme/0004F2000301-contacts.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n<YealinkIPPhoneBook><Title>Yealink</Title>'
        '<Menu Name="Collega\'s"><Unit Name="Jan de Vries" Phone1="201" Phone2="0612345678"'
        ' Phone3="" default_photo="Resource:icon_family_b.png"/></Menu></YealinkIPPhoneBook>\n',
    )
    sources = sources_file(tmp_path, prov)
    anna = by_record(run(sources, ("mac", "00-04-F2-00-03-01")).hits)
    assert anna == {
        ("acme/0004f2000301-registration.cfg", "account 1"): (
            "exact",
            False,
            {
                "mac": "0004f2000301",
                "vendor": "polycom",
                "line": "1",
                "sip_user": "acme/301",
                "auth_user": "acme301",
                "sip_password": None,
                "display_name": "Anna Smit",
                "label": "Anna",
            },
        ),
        ("acme/0004F2000301-contacts.xml", "entry 1"): (
            "related",
            True,
            {"name": "Jan de Vries", "extension": "acme/201", "number": "0612345678"},
        ),
    }
    jan = by_record(run(sources, ("phone", "+31612345678")).hits)
    assert jan == {
        (masked("acme/0004F2000301-contacts.xml"), "entry 1"): (
            "normalised",
            False,
            {"name": "Jan de Vries", "extension": "acme/201", "number": "0612345678"},
        )
    }


def test_snom_legacy_keys_and_tbook_v2_file_named_by_setting_files(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    write(
        prov,
        "acme/snom-anna.xml",
        '<?xml version="1.0" encoding="utf-8"?>\n<settings><phone-settings>'
        '<user_name1 perm="">301</user_name1><user_realname1 perm="">Anna Smit</user_realname1>'
        '<user_pass1 perm="">Sip-Secret-301</user_pass1></phone-settings>'
        '<setting-files><file url="https://prov.example.net/acme/anna-tbook.xml"/></setting-files>'
        "</settings>\n",
    )
    write(
        prov,
        "acme/anna-tbook.xml",
        '<?xml version="1.0" encoding="utf-8"?>\n<tbook complete="true" e="2" version="2.0">'
        '<contact fav="true"><first_name>Jan</first_name><last_name>de Vries</last_name>'
        "<email>Jan.DeVries@acme-logistiek.nl</email><organization>Acme</organization>"
        '<numbers><number no="201" type="extension" outgoing_id="0"/>'
        '<number no="+31 10 234 5201" type="business" outgoing_id="0"/></numbers></contact>'
        "</tbook>\n",
    )
    sources = sources_file(tmp_path, prov)
    anna = by_record(run(sources, ("extension", "acme/301")).hits)
    assert anna[("acme/snom-anna.xml", "account 1")][2] == {
        "vendor": "snom",
        "line": "1",
        "sip_user": "acme/301",
        "sip_password": None,
        "display_name": "Anna Smit",
    }
    assert anna[("acme/anna-tbook.xml", "entry 1")] == (
        "related",
        True,
        {
            "name": "Jan de Vries",
            "extension": "acme/201",
            "number": "+31 10 234 5201",
            "email": "Jan.DeVries@acme-logistiek.nl",
            "organisation": "Acme",
        },
    )
    jan = by_record(run(sources, ("email", "jan.devries@acme-logistiek.nl")).hits)
    assert set(jan) == {(masked("acme/anna-tbook.xml"), "entry 1")}


def test_grandstream_version_2_items(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    write(
        prov,
        "acme/cfg000b82000401.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n<gs_provision><config version="2">'
        '<item name="account.1.sip.subscriber"><part name="name">Anna Smit</part>'
        '<part name="userid">401</part></item></config></gs_provision>\n',
    )
    records = by_record(run(sources_file(tmp_path, prov), ("extension", "acme/401")).hits)
    assert records == {
        ("acme/cfg000b82000401.xml", "account 1"): (
            "exact",
            False,
            {
                "mac": "000b82000401",
                "vendor": "grandstream",
                "line": "1",
                "sip_user": "acme/401",
                "display_name": "Anna Smit",
            },
        )
    }


def test_shared_phonebook_and_shared_part_belong_to_no_handset(tmp_path: Path) -> None:
    """A phonebook or config part named by two handsets is shared: no one's own data."""
    prov = tmp_path / "prov"
    for mac, ext in (("001565000501", "501"), ("001565000502", "502")):
        write(
            prov,
            f"acme/{mac}.cfg",
            f"#!version:1.0.0.1\naccount.1.user_name = {ext}\n"
            "remote_phonebook.data.1.url = http://prov.example.net/acme/team.xml\n",
        )
        write(
            prov,
            f"acme/{mac}-master.cfg",
            '<APPLICATION CONFIG_FILES="common-reg.cfg"/>',
        )
    write(
        prov,
        "acme/team.xml",
        "<YealinkIPPhoneDirectory><DirectoryEntry><Name>Jan de Vries</Name>"
        "<Telephone>201</Telephone></DirectoryEntry></YealinkIPPhoneDirectory>",
    )
    write(prov, "acme/common-reg.cfg", '<polycomConfig reg.1.address="599"/>')
    sources = sources_file(tmp_path, prov)
    assert set(by_record(run(sources, ("extension", "acme/501")).hits)) == {
        ("acme/001565000501.cfg", "account 1")
    }
    # the part named by both masters did not take either MAC
    shared = by_record(run(sources, ("extension", "acme/599")).hits)
    assert shared[("acme/common-reg.cfg", "account 1")][2].get("mac") is None
    jan = by_record(run(sources, ("extension", "acme/201")).hits)
    assert set(jan) == {(masked("acme/team.xml"), "entry 1")}


def test_scope_for_files_outside_a_client_directory(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    write(prov, "001565000601.cfg", "#!version:1.0.0.1\naccount.1.user_name = 601\n")
    # without a scope: unscoped (weak), and a warning says so
    result = run(sources_file(tmp_path, prov), ("extension", "601"))
    assert {m for m, _, _ in by_record(result.hits).values()} == {"possible"}
    assert any("outside a client directory" in w for w in result.sources[0].warnings)
    assert result.complete  # a warning about scope is no missing file
    # connection.scope names the client
    scoped = sources_file(tmp_path, prov, connection={"scope": "Acme"})
    records = by_record(run(scoped, ("extension", "acme/601")).hits)
    assert records[("001565000601.cfg", "account 1")][0] == "exact"
    # so does a source's client when it is a valid scope
    by_client = sources_file(tmp_path, prov, client="acme")
    assert by_record(run(by_client, ("extension", "acme/601")).hits)


def test_directory_scope_at_a_deeper_level(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    write(
        prov, "tenants/bakkerij/001565000701.cfg", "#!version:1.0.0.1\naccount.1.user_name = 10\n"
    )
    mapping = tmp_path / "deep.yaml"
    text = (Path(__file__).parents[3] / "mappings/voip/provisioning.yaml").read_text("utf-8")
    mapping.write_text(text.replace("  level: 1", "  level: 2"), encoding="utf-8")
    sources = sources_file(tmp_path, prov, mapping=str(mapping))
    records = by_record(run(sources, ("extension", "bakkerij/10")).hits)
    assert records[("tenants/bakkerij/001565000701.cfg", "account 1")][2]["sip_user"] == (
        "bakkerij/10"
    )


def test_sip_user_is_an_extension_or_a_full_number(tmp_path: Path) -> None:
    """Hosted lines register with the DID; internal ones with the extension."""
    prov = tmp_path / "prov"
    write(
        prov,
        "acme/0004f2000901-registration.cfg",
        '<polycomConfig reg.1.address="+31102345301@sip.acme.example.net" reg.1.label="DID"'
        ' reg.2.address="302" reg.2.label="Intern"/>',
    )
    sources = sources_file(tmp_path, prov)
    records = by_record(run(sources, ("phone", "010-2345301")).hits)
    handset = "acme/0004f2000901-registration.cfg"
    assert records == {
        (handset, "account 1"): (
            "exact",  # the number of the SIP address is kept without its host
            False,
            {
                "mac": "0004f2000901",
                "vendor": "polycom",
                "line": "1",
                "sip_number": "+31102345301",
                "label": "DID",
            },
        ),
        # the same handset's other line, through its MAC
        (handset, "account 2"): (
            "expanded",
            False,
            {
                "mac": "0004f2000901",
                "vendor": "polycom",
                "line": "2",
                "sip_user": "acme/302",
                "label": "Intern",
            },
        ),
    }
    records = by_record(run(sources, ("extension", "acme/302")).hits)
    assert records[("acme/0004f2000901-registration.cfg", "account 2")][2]["sip_user"] == (
        "acme/302"
    )


def test_text_encodings_utf16_with_bom_and_a_declared_legacy_encoding(tmp_path: Path) -> None:
    prov = tmp_path / "prov" / "acme"
    prov.mkdir(parents=True)
    text = "#!version:1.0.0.1\naccount.1.user_name = 202\naccount.1.display_name = Zoë Çelik\n"
    (prov / "001565000b01.cfg").write_bytes(text.encode("utf-16"))
    (prov / "001565000b02.cfg").write_bytes(text.replace("202", "203").encode("latin-1"))
    sources = sources_file(tmp_path, prov.parent)
    result = run(sources, ("extension", "acme/202"), ("extension", "acme/203"))
    records = by_record(result.hits)
    assert records[("acme/001565000b01.cfg", "account 1")][2]["display_name"] == "Zoë Çelik"
    assert [w.split(":")[0] for w in result.sources[0].warnings] == ["acme/001565000b02.cfg"]
    # the mapping may declare the encoding of key = value files
    mapping = tmp_path / "latin1.yaml"
    shipped = (Path(__file__).parents[3] / "mappings/voip/provisioning.yaml").read_text("utf-8")
    mapping.write_text(shipped.replace("encoding: utf-8", "encoding: latin-1"), "utf-8")
    result = run(
        sources_file(tmp_path, prov.parent, mapping=str(mapping)), ("extension", "acme/203")
    )
    assert by_record(result.hits)[("acme/001565000b02.cfg", "account 1")][2]["display_name"] == (
        "Zoë Çelik"
    )


@given(
    prefix=st.sampled_from(["6", "10", "20", "88", "30"]),
    rest=st.integers(min_value=0, max_value=10**7 - 1),
    spelling=st.sampled_from(
        ["0{p}-{r}", "+31 (0){p} {r}", "0031 {p} {r}", "31{p}{r}", "+31{p}{r}", "0{p} {r} x12"]
    ),
)
def test_phone_tail_is_the_same_for_every_spelling(prefix: str, rest: int, spelling: str) -> None:
    """The candidate key agrees with the normalised number, so no stored spelling is missed."""
    digits = f"{rest:0{9 - len(prefix)}d}"
    stored = spelling.format(p=prefix, r=digits)
    normalised = try_normalise("phone", stored)
    if normalised is not None:
        assert phone_tail(stored) == phone_tail(normalised)


def test_scope_from_source_without_a_scope_fails_the_source_by_name(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    write(prov, "001565000c01.cfg", "#!version:1.0.0.1\naccount.1.user_name = 701\n")
    mapping = tmp_path / "one-client.yaml"
    text = (Path(__file__).parents[3] / "mappings/voip/provisioning.yaml").read_text("utf-8")
    mapping.write_text(text.replace("  from: directory", "  from: source"), encoding="utf-8")
    result = run(sources_file(tmp_path, prov, mapping=str(mapping)), ("extension", "acme/701"))
    assert result.sources[0].status == "failed"
    assert "connection.scope" in result.sources[0].error
    scoped = sources_file(tmp_path, prov, mapping=str(mapping), connection={"scope": "acme"})
    records = by_record(run(scoped, ("extension", "acme/701")).hits)
    assert records[("001565000c01.cfg", "account 1")][2]["sip_user"] == "acme/701"
