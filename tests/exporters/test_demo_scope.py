"""On the demo: portability holds only provided and observed data (WP242), and every
withheld secret says whether it is the subject's own (on request) or the network's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from discover.case import read_case
from discover.review import new_decision, record_decisions
from exporters import export_package
from tests.exporters.package_checks import EVERY

SYSTEM_FIELDS = {
    "objectSid",
    "objectGUID",
    "whenCreated",
    "memberOf",
    "sip_server",
    "provisioning_url",
    "provisioning_user",
}
DERIVED_FIELDS = {"charge_eur", "usage_percent"}


def _columns(document: dict) -> set[str]:  # type: ignore[type-arg]
    return {c["field"] for d in document["datasets"] for c in d["columns"] if c["field"]}


def _access_fields(document: dict) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    found: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for service in document["data"]:
        for category in service["categories"]:
            for source in category["sources"]:
                for record in source["records"]:
                    for field in record["fields"]:
                        found.setdefault(field["field"], []).append(field)
    return found


def test_portability_leaves_out_derived_and_system_data(demo_case: Path, tmp_path: Path) -> None:
    access = export_package(demo_case, formats=["json"], out=tmp_path / "a", **EVERY).path
    portability = export_package(
        demo_case, kind="portability", formats=["json", "csv"], out=tmp_path / "p", **EVERY
    ).path
    held = _access_fields(json.loads((access / "access.json").read_text(encoding="utf-8")))
    assert {"objectSid", "objectGUID", "whenCreated", "charge_eur"} <= set(held)
    assert held["charge_eur"][0]["origin"] == "derived"
    assert held["objectSid"][0]["origin"] == "system"
    document = json.loads((portability / "portability.json").read_text(encoding="utf-8"))
    columns = _columns(document)
    assert not columns & (SYSTEM_FIELDS | DERIVED_FIELDS), columns & (
        SYSTEM_FIELDS | DERIVED_FIELDS
    )
    assert {"mail", "mac", "calling_number", "msisdn"} <= columns  # provided and observed stay
    # organisation records (a client's address, its groups) are not the subject's to port
    assert not any(d["location"] == "organisations" for d in document["datasets"])
    assert document["left_out"]["derived_or_system"] > 0
    assert document["left_out"]["organisation_record"] > 0
    sidecar = (portability / "csv" / "metadata.json").read_text(encoding="utf-8")
    assert '"charge_eur"' not in sidecar and '"objectSid"' not in sidecar


def test_a_directory_entry_s_name_and_object_id_are_system_data(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    """The DN and the key the directory assigns (entryUUID) are labelled and left out of
    portability like objectGUID, also for the confirmed namesake in the OpenLDAP directory."""
    case = fresh_case(demo_case)
    namesake = sorted(
        {
            (h["source"], h["location"], h["record_key"])
            for h in read_case(case).hits.to_pylist()
            if h["source"] == "bakkerij-directory" and h["match"] == "possible"
        }
    )[0]
    record_decisions(case, [new_decision(namesake, "confirm", reason="checked", decided_by="A")])
    access = export_package(case, formats=["json"], out=tmp_path / "a", **EVERY).path
    held = _access_fields(json.loads((access / "access.json").read_text(encoding="utf-8")))
    for name, label in (
        ("dn", "Naam in de directory (DN)"),
        ("entryUUID", "Object-ID (entryUUID)"),
    ):
        assert {(f["origin"], f["label"]) for f in held[name]} == {("system", label)}
    portability = export_package(
        case, kind="portability", formats=["json"], out=tmp_path / "p", **EVERY
    ).path
    document = json.loads((portability / "portability.json").read_text(encoding="utf-8"))
    assert any(d["source"] == "bakkerij-directory" for d in document["datasets"])
    assert not _columns(document) & {"dn", "entryUUID"}


def test_withheld_secrets_say_whose_they_are(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(demo_case, formats=["json"], out=tmp_path, **EVERY).path
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    kinds = {w["field"]: w["secret"] for w in document["withheld"]["fields"]}
    assert kinds["sip_password"] == "subject"
    assert kinds["puk"] == "subject"
    assert kinds["codeword"] == "subject"
    for system in ("admin_password", "provisioning_password", "pppoe_password", "password_hash"):
        assert kinds[system] == "system", system
    for name, fields in _access_fields(document).items():
        for field in fields:
            if field["withheld"] == "secret":
                assert field["secret"] == kinds[name] and field["value"] is None
    # a fellow keyholder's codeword is theirs: redacted as other people's data, never
    # offered to the subject as their own credential
    others = "keyholders of the same alarm object: codeword"
    assert others not in kinds
    assert {f["withheld"] for f in _access_fields(document)[others]} == {"third_party"}
    assert "secret" not in _access_fields(document)[others][0]
    assert (
        "op te vragen" in document["withheld"]["subject"]
        or "opvragen" in document["withheld"]["subject"]
    )
    assert "nooit" in document["withheld"]["system"]


def test_photos_and_recordings_are_listed_with_how_to_obtain_them(
    demo_case: Path, tmp_path: Path
) -> None:
    package = export_package(demo_case, formats=["json"], out=tmp_path, **EVERY).path
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    missing = document["files_not_included"]
    kinds = {(i["kind"], i["field"]) for i in missing["items"]}
    assert any(kind == "recording" for kind, _field in kinds)  # the CRM's, stored elsewhere
    # directory photos are image files in the package, referenced from their fields
    photos = [f for name in ("jpegPhoto", "thumbnailPhoto") for f in _access_fields(document)[name]]
    assert photos and all(f["file"].startswith("files/") for f in photos)
    assert not any(field in ("jpegPhoto", "thumbnailPhoto") for _kind, field in kinds)
    for photo in photos:
        assert (package / photo["file"]).read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    # the subject's own recording, whose mapping names its directory, is the audio file
    import wave

    audio = package / "files" / "Gespreksopnames 1.wav"
    with wave.open(str(audio), "rb") as opened:
        assert opened.getnframes() > 0
    referenced = [
        f
        for fields in _access_fields(document).values()
        for f in fields
        if f.get("file") == "files/Gespreksopnames 1.wav"
    ]
    assert [f["field"] for f in referenced] == ["file_ref"]
    assert "privacy@bezorgsupport.nl" in missing["explanation"]
    letter = (package / "letter.html").read_text(encoding="utf-8")
    assert "geluidsopnames" in letter
    # only recordings are missing: the text names no photos, and points at no "below"
    assert "foto" not in missing["explanation"] and "hieronder" not in missing["explanation"]


def test_dates_phones_and_search_terms_read_the_same_everywhere(
    demo_case: Path, tmp_path: Path
) -> None:
    import re

    import openpyxl

    package = export_package(demo_case, formats=["json", "xlsx"], out=tmp_path, **EVERY).path
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    zoned = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")
    dated = 0
    for fields in _access_fields(document).values():
        for field in fields:
            value = field["value"]
            if value and re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", value):
                assert zoned.match(value), value
                dated += 1
            if field["value_type"] and "e164" in field:
                assert field["e164"] is None or field["e164"].startswith("+")
    assert dated > 5
    mobiles = _access_fields(document)["mobile"]
    assert {f["e164"] for f in mobiles} == {"+31612345678"}
    searched = [(i["type_label"], i["value"]) for i in document["request"]["identifiers"]]
    assert searched == [("e-mailadres", "JAN.DEVRIES@ACME-LOGISTIEK.NL"), ("naam", "Jan de Vries")]
    book = openpyxl.load_workbook(package / "access.xlsx", read_only=True)
    cover = [c for row in book.worksheets[0].iter_rows(values_only=True) for c in row if c]
    assert "e-mailadres: JAN.DEVRIES@ACME-LOGISTIEK.NL" in cover
    assert "naam: Jan de Vries" in cover


def test_the_demo_s_sources_of_several_clients_name_each_record_s_client(
    demo_case: Path,
) -> None:
    """The CRM by organisation, the provisioning directory by folder, the inventories by
    their customer and PBX columns; the keyholder list and the notification logs name
    no client, and the namesake's records are the bakery's."""
    clients: dict[tuple[str, bool], set[str | None]] = {}
    for hit in read_case(demo_case).hits.to_pylist():
        if hit["controller"] == "client":
            key = (hit["source"], hit["match"] == "possible")
            clients.setdefault(key, set()).add(hit["client"])
    acme, bakkerij = "Acme Logistiek B.V.", "Bakkerij De Vries"
    for source in ("crm", "provisioning", "mobile-inventory", "voip-devices", "acme-directory"):
        assert clients[(source, False)] == {acme}, source
    assert clients[("provisioning", True)] == clients[("crm", True)] == {bakkerij}
    assert clients[("alarm-keyholders", False)] == {None}
    assert clients[("roaming-notifications", False)] == {None}
