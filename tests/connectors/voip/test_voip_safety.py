"""Hostile and broken provisioning files: refused one by one, named, never silent.

tests/connectors/fixtures/voip/hostile/acme holds a good Yealink file next to an
entity-expansion bomb, an external entity (file:///etc/passwd) in a .cfg, a
parameter entity fetching a remote DTD, binary garbage named .cfg, a truncated
phonebook, a Latin-1 file and a note in no format. Each is refused with a warning
naming it; the good file is still found; the result says it is incomplete.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from voip_helpers import HOSTILE, PROVISIONING, by_record, run, sources_file

from connectors.voip.files import Unreadable, parse_xml

EXPECTED_WARNINGS = {
    "acme/001565abcd11.cfg": "external entity 'xxe' -> file:///etc/passwd",
    "acme/001565abcd12.cfg": "binary content",
    "acme/001565abcd13-phonebook.xml": "not well-formed XML at line 7",
    "acme/001565abcd14.cfg": "not valid utf-8 text",
    "acme/billion-laughs.xml": "entity 'lol' (an entity-expansion bomb)",
    "acme/notes.cfg": "neither XML nor a text format of the mapping",
    "acme/remote-dtd.xml": "external entity 'remote' -> http://203.0.113.66/evil.dtd",
}


def test_each_hostile_file_is_refused_by_name_and_the_rest_is_scanned(tmp_path: Path) -> None:
    result = run(sources_file(tmp_path, HOSTILE), ("extension", "acme/201"))
    status = result.sources[0]
    assert status.status == "ok"
    assert status.truncated is True
    assert result.complete is False  # a package must never be silently incomplete
    by_file = {w.split(": not read: ", 1)[0]: w for w in status.warnings}
    assert set(by_file) == set(EXPECTED_WARNINGS)
    for relpath, reason in EXPECTED_WARNINGS.items():
        assert reason in by_file[relpath]
    # the good file next to them is still found
    records = by_record(result.hits)
    assert set(records) == {("acme/001565abcd01.cfg", "account 1")}
    values = " ".join(str(r["value"]) for r in result.hits.to_pylist())
    assert "root:" not in values and "lol" not in values


def test_the_bomb_is_refused_before_expansion() -> None:
    data = (HOSTILE / "acme" / "billion-laughs.xml").read_bytes()
    with pytest.raises(Unreadable) as caught:
        parse_xml("billion-laughs.xml", data)
    assert caught.value.relpath == "billion-laughs.xml"
    assert "nothing was expanded" in caught.value.reason


def test_external_entity_is_never_fetched(tmp_path: Path) -> None:
    """An external entity pointing at a local file that exists: its text never appears."""
    target = tmp_path / "secret.txt"
    target.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE flat-profile [<!ENTITY x SYSTEM "file://{target}">]>'
        "<flat-profile><Station_Name>&x;</Station_Name></flat-profile>"
    ).encode()
    with pytest.raises(Unreadable, match="external entity 'x'"):
        parse_xml("spa001565abcd09.xml", data)


def test_too_large_a_file_is_not_read(tmp_path: Path) -> None:
    """Files over files.max_bytes (1,000 here) are named and skipped; smaller ones are read."""
    mapping = tmp_path / "small.yaml"
    text = (Path(__file__).parents[3] / "mappings/voip/provisioning.yaml").read_text("utf-8")
    mapping.write_text(text.replace("max_bytes: 4194304", "max_bytes: 1000"), encoding="utf-8")
    sources = sources_file(tmp_path, PROVISIONING, mapping=str(mapping))
    result = run(sources, ("extension", "acme/201"), ("extension", "acme/202"))
    too_large = {w.split(": not read: ")[0] for w in result.sources[0].warnings if "max_bytes" in w}
    assert too_large == {
        "acme/001565abcd01.cfg",
        "acme/spa001565abcd03.xml",
        "bakkerij/0004F2AA0010.xml",
    }
    assert result.complete is False
    records = by_record(result.hits)
    assert ("acme/001565abcd01.cfg", "account 1") not in records  # Jan's handset: not read
    assert ("acme/phone202.cfg", "account 1") in records  # Zoë's: small enough


def test_missing_directory_fails_the_source_by_name(tmp_path: Path) -> None:
    result = run(sources_file(tmp_path, tmp_path / "nowhere"), ("extension", "acme/201"))
    status = result.sources[0]
    assert status.status == "failed"
    assert "nowhere" in status.error and "does not exist" in status.error
    assert result.complete is False


def test_symlink_out_of_the_directory_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "001565abcd77.cfg").write_text(
        "#!version:1.0.0.1\naccount.1.user_name = 277\n", encoding="utf-8"
    )
    directory = tmp_path / "prov" / "acme"
    directory.mkdir(parents=True)
    (directory / "001565abcd77.cfg").symlink_to(outside / "001565abcd77.cfg")
    result = run(sources_file(tmp_path, tmp_path / "prov"), ("extension", "acme/277"))
    assert result.hits.num_rows == 0
