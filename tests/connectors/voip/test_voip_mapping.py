"""The voip mapping format: validated by JSON Schema, extended without code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from voip_helpers import PROVISIONING, by_record, masked, run, sources_file

from connectors import load_mapping
from discover.errors import ConfigError
from discover.register import default_register

SHIPPED = Path(__file__).parents[3] / "mappings" / "voip" / "provisioning.yaml"


def shipped() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def write_mapping(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "voip.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return path


def load(tmp_path: Path, document: dict[str, Any]) -> Any:
    return load_mapping(write_mapping(tmp_path, document), default_register())


def test_shipped_mapping_is_valid() -> None:
    mapping = load_mapping(SHIPPED, default_register()).model
    assert [f.name for f in mapping.formats] == [
        "yealink",
        "polycom",
        "cisco_spa",
        "grandstream",
        "snom",
        "ip_phone_directory",
        "yealink_phonebook",
        "polycom_directory",
        "grandstream_phonebook",
        "snom_tbook",
    ]
    assert mapping.identifier_types == {"mac", "extension", "name", "phone", "email"}
    secrets = {n for n, r in mapping.handset_fields.items() if r.spec.secret}
    assert secrets == {"sip_password", "provisioning_password", "admin_password", "user_password"}


def test_a_vendor_key_is_added_without_code(tmp_path: Path) -> None:
    """A new field (the line's mobile for call-through) and a second key for an old one."""
    document = shipped()
    document["handsets"]["fields"]["mobile"] = {"identifier": "phone"}
    document["formats"]["yealink"]["account"]["mobile"] = "account.{n}.cp_source"
    document["formats"]["yealink"]["account"]["display_name"] = [
        "account.{n}.display_name_custom",
        "account.{n}.display_name",
    ]
    mapping = write_mapping(tmp_path, document)
    prov = tmp_path / "prov" / "acme"
    prov.mkdir(parents=True)
    (prov / "001565000801.cfg").write_text(
        "#!version:1.0.0.1\naccount.1.user_name = 801\naccount.1.display_name = A. Smit\n"
        "account.1.display_name_custom = Anna Smit\naccount.1.cp_source = 06 1111 2222\n",
        encoding="utf-8",
    )
    sources = sources_file(tmp_path, prov.parent, mapping=str(mapping))
    records = by_record(run(sources, ("phone", "+31611112222")).hits)
    assert records[("acme/001565000801.cfg", "account 1")] == (
        "normalised",
        False,
        {
            "mac": "001565000801",
            "vendor": "yealink",
            "line": "1",
            "sip_user": "acme/801",
            "display_name": "Anna Smit",
            "mobile": "06 1111 2222",
        },
    )


def test_detect_limits_the_formats(tmp_path: Path) -> None:
    """detect: [yealink] reads Yealink files only; the others are named as not read."""
    document = shipped()
    document["detect"] = ["yealink", "ip_phone_directory"]
    sources = sources_file(tmp_path, PROVISIONING, mapping=str(write_mapping(tmp_path, document)))
    result = run(sources, ("extension", "acme/201"), ("extension", "acme/202"))
    assert {ref[0] for ref in by_record(result.hits)} == {
        "acme/001565abcd01.cfg",
        "acme/001565abcd01-phonebook.xml",  # Jan's, related
        masked("acme/001565abcd01-phonebook.xml"),  # Zoë's entry in it
    }
    assert any(w.startswith("acme/phone202.cfg: not read:") for w in result.sources[0].warnings)


@pytest.mark.parametrize(
    ("change", "place", "message"),
    [
        (
            lambda d: d["formats"]["yealink"]["account"].update(pager="account.{n}.pager"),
            "formats.yealink.account.pager",
            "'pager' is not a field of the records",
        ),
        (
            lambda d: d["formats"]["yealink"]["account"].update(sip_user="account.user_name"),
            "formats.yealink.account.sip_user",
            "needs {n}",
        ),
        (
            lambda d: d["formats"]["yealink"]["device"].update(vendor="$line"),
            "formats.yealink.device.vendor",
            "'$line' is not a computed value",
        ),
        (
            lambda d: d["handsets"]["fields"]["sip_user"].update(identifier="extention"),
            "handsets.fields.sip_user.identifier",
            "'extention' is not one of",
        ),
        (
            lambda d: d["handsets"]["fields"]["sip_password"].update(identifier="username"),
            "handsets.fields.sip_password",
            "a secret field cannot also be searched",
        ),
        (
            lambda d: d["contacts"].update(category="voip.phonebook"),
            "contacts.category",
            "'voip.phonebook' is not a register category",
        ),
        (
            lambda d: d["formats"]["polycom_directory"]["fields"].update(fax=["fx"]),
            "formats.polycom_directory.fields.fax",
            "'fax' is not a contact field",
        ),
        (
            lambda d: d.update(detect=["yealink", "aastra"]),
            "detect[1]",
            "'aastra' is not a format of this mapping",
        ),
        (
            lambda d: d["formats"]["snom"].update(syntax="yaml"),
            "formats.snom.syntax",
            "'yaml' is not one of",
        ),
        (
            lambda d: d["files"].update(encoding="klingon-8"),
            "files.encoding",
            "'klingon-8' is not a known encoding",
        ),
    ],
)
def test_malformed_mappings_name_file_place_and_expectation(
    tmp_path: Path, change: Any, place: str, message: str
) -> None:
    document = shipped()
    change(document)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, document)
    text = str(caught.value)
    assert text.startswith(f"voip.yaml: {place}")
    assert message in text
