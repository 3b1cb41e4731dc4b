"""Phonebook contacts as vCard 3.0 and 4.0, parsed back with vobject (what importers use)."""

from __future__ import annotations

from pathlib import Path

import pytest
import vobject
from package_checks import EVERY
from support.hit_rows import hit_row
from support.synthetic_case import synthetic_request, write_synthetic_case

from discover.hits import hits_table
from exporters import export_package
from exporters.vcard import Contact, contacts_from_hits, escape, fold, vcard, vcards


def _hit(record: str, field: str, value: str | None, identifier: str | None, **extra: object):
    fields: dict[str, object] = {
        "source": "provisioning",
        "location": "acme/phonebook-8c6cb1b99dd2",
        "record_key": record,
        "field": field,
        "value": value,
        "identifier": identifier,
        "category": "voip.contacts",
        "service": "voip",
        "matched_on": "phone:+31612345678",
        "match": "expanded",
        "via": "email:jan.devries@acme-logistiek.nl -> phone:+31612345678",
    }
    return hit_row(**{**fields, **extra})


LONG_NOTE = "Bereikbaar ma–vr; vraag naar Zoë of Çelik, niet bellen na 17:00, " * 3

ROWS = [
    _hit("entry 1", "name", "Jan de Vries (mobiel)", "name"),
    _hit("entry 1", "number", "06-12345678", "phone"),
    _hit("entry 1", "extension", "acme/201", "extension"),
    _hit("entry 1", "email", "jan.devries@acme-logistiek.nl", "email"),
    _hit("entry 1", "organisation", "Acme; Logistiek, B.V.", None),
    _hit("entry 1", "remark", LONG_NOTE, None),
    _hit("entry 2", "name", "Zoë Çelik", "name", third_party=True),
    _hit("entry 2", "number", "010 234 5202", "phone", third_party=True),
    _hit("entry 3", "name", "Jan de Vries (bureau)", "name"),
    _hit("entry 3", "number", "+31 10 234 5201", "phone"),
]


@pytest.fixture
def contacts_case(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    write_synthetic_case(case, rows=ROWS, request=synthetic_request())
    return case


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_contacts_vcf_parses_back(contacts_case: Path, tmp_path: Path, version: str) -> None:
    result = export_package(
        contacts_case,
        kind="portability",
        formats=["json"],
        out=tmp_path,
        vcard_version=version,  # type: ignore[arg-type]
        **EVERY,
    )
    # entry 2 is a contact in the subject's own phonebook: another person, but portable
    assert result.contacts == 3
    raw = (result.path / "contacts.vcf").read_bytes()
    assert b"\r\n" in raw and all(len(line) <= 75 for line in raw.split(b"\r\n"))
    cards = list(vobject.readComponents(raw.decode("utf-8"), validate=True))
    assert [c.version.value for c in cards] == [version] * 3
    by_name = {c.fn.value: c for c in cards}
    assert set(by_name) == {"Jan de Vries (mobiel)", "Jan de Vries (bureau)", "Zoë Çelik"}
    assert by_name["Zoë Çelik"].tel.value.removeprefix("tel:") == "+31102345202"
    mobile = by_name["Jan de Vries (mobiel)"]
    tels = [t.value.removeprefix("tel:") for t in mobile.contents["tel"]]
    assert tels == ["+31612345678", "201"]
    assert mobile.email.value == "jan.devries@acme-logistiek.nl"
    assert mobile.org.value == ["Acme; Logistiek, B.V."]
    assert (
        mobile.note.value == f"remark: {LONG_NOTE.strip()}"
        or LONG_NOTE.strip() in mobile.note.value
    )
    # N holds the person's name: the phonebook's label stays in FN only
    assert mobile.n.value.family == "de Vries" and mobile.n.value.given == "Jan"
    assert by_name["Jan de Vries (bureau)"].n.value.family == "de Vries"
    # an internal extension is text, never a dialable tel: URI
    extension = mobile.contents["tel"][1]
    assert extension.value == "201"
    if version == "4.0":
        assert extension.params.get("VALUE") == ["text"]
        assert b"tel:201" not in raw and b"VALUE=text" in raw
    assert by_name["Jan de Vries (bureau)"].tel.value.removeprefix("tel:") == "+31102345201"
    readme = (result.path / "LEESMIJ.txt").read_text(encoding="utf-8")
    assert "contacts.vcf" in readme
    assert "gegevens van anderen" in readme  # the package says whose data the contacts are


def test_own_phonebook_is_part_of_the_access_package_too(
    contacts_case: Path, tmp_path: Path
) -> None:
    result = export_package(
        contacts_case, kind="access", formats=["json", "csv", "xlsx"], out=tmp_path, **EVERY
    )
    # the full copy (Art. 15(3)) holds the subject's own phonebook, as portability does
    assert result.contacts == 0 and not (result.path / "contacts.vcf").exists()
    document = (result.path / "access.json").read_text(encoding="utf-8")
    assert "Zoë Çelik" in document and "010 234 5202" in document
    assert "third_party_record" not in result.selection.left_out
    assert "gegevens van anderen" in (result.path / "LEESMIJ.txt").read_text(encoding="utf-8")


def test_uids_are_stable_across_exports(contacts_case: Path, tmp_path: Path) -> None:
    first = export_package(
        contacts_case, kind="portability", formats=["json"], out=tmp_path / "a", **EVERY
    )
    second = export_package(
        contacts_case, kind="portability", formats=["json"], out=tmp_path / "b", **EVERY
    )
    assert (first.path / "contacts.vcf").read_bytes() == (second.path / "contacts.vcf").read_bytes()


def test_no_vcard_without_phonebook_contacts(demo_case: Path, tmp_path: Path) -> None:
    result = export_package(
        demo_case, kind="access", formats=["json"], out=tmp_path, allow_undecided=True
    )
    assert not (result.path / "contacts.vcf").exists()  # access packages: JSON/CSV/XLSX only


def test_folding_never_splits_a_character() -> None:
    line = "NOTE:" + "é" * 100
    folded = fold(line)
    parts = folded.encode("utf-8").split(b"\r\n")
    assert all(len(p) <= 75 for p in parts)
    for part in parts:
        part.decode("utf-8")  # each physical line is valid UTF-8
    assert folded.replace("\r\n ", "").removesuffix("\r\n") == line


def test_escaping_round_trips_through_vobject() -> None:
    contact = Contact(uid="urn:uuid:0", full_name="A, B; C\\D", notes=["line 1", "line 2"])
    card = vobject.readOne(vcard(contact, "4.0"))
    assert card.fn.value == "A, B; C\\D"
    assert card.note.value == "line 1\nline 2"
    assert escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_contacts_from_hits_skips_empty_records() -> None:
    table = hits_table([_hit("entry 9", "name", None, "name"), *ROWS[:2]])
    contacts = contacts_from_hits(table)
    assert [c.display_name for c in contacts] == ["Jan de Vries (mobiel)"]
    assert vcards(contacts).startswith(b"BEGIN:VCARD\r\nVERSION:3.0\r\n")


def test_only_the_subjects_own_photo_becomes_a_file(tmp_path: Path) -> None:
    import base64

    own = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xffOWN").decode()
    other = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xffOTHER").decode()
    directory = {"category": "managed_it.directory", "service": "managed_it", "source": "dir"}
    rows = [
        _hit("u1", "mail", "jan.devries@acme-logistiek.nl", "email", **directory),
        _hit(
            "u1", "jpegPhoto", "<binary: 6 bytes>", None, value_type="binary", file=own, **directory
        ),
        _hit("u1", "manager", "cn=Zoë", None, third_party=True, **directory),
        _hit(
            "u2",
            "jpegPhoto",
            "<binary: 8 bytes>",
            None,
            value_type="binary",
            file=other,
            third_party=True,
            **directory,
        ),
    ]
    case = tmp_path / "case"
    write_synthetic_case(case, rows=rows, request=synthetic_request())
    package = export_package(case, formats=["json"], out=tmp_path / "out", **EVERY).path
    files = sorted((package / "files").iterdir())
    assert [f.read_bytes() for f in files] == [b"\xff\xd8\xffOWN"]
    assert b"OTHER" not in b"".join(p.read_bytes() for p in package.rglob("*") if p.is_file())
