"""Hostile and broken LDIF exports: nothing read outside the export, nothing silent.

An export comes from a client's administrator. A ``file://`` value must not read the
provider's files; a FIFO named as the export must not hang the search; an empty,
Latin-1 or NUL-damaged export and a base DN that matches nothing must say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from connectors.directory.ldif_reader import FileUrls, LdifStats, read_ldif
from discover.engine import SearchResult, search
from discover.request import build_request
from discover.sources import load_sources

PERSON = """dn: uid=jan,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: jan
cn: {name}
sn: Vries
mail: jan@example.org
"""


def _search(
    tmp_path: Path, ldif: Path, *identifiers: tuple[str, str], **source: Any
) -> SearchResult:
    document = {
        "version": 1,
        "sources": [
            {
                "name": "export",
                "kind": "ldif",
                "mapping": "shipped:directory/inetorgperson.yaml",
                "connection": {"path": str(ldif), "base_dn": "dc=example,dc=org"},
                **source,
            }
        ],
    }
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(document), encoding="utf-8")
    return search(build_request(list(identifiers)), load_sources(sources))


def _values(result: SearchResult) -> str:
    return " ".join(str(row["value"]) for row in result.hits.to_pylist())


# -- file:// values ---------------------------------------------------------------------


def test_a_file_url_is_not_read_unless_the_source_allows_it(tmp_path: Path) -> None:
    """``description:< file:///etc/passwd`` used to put /etc/passwd into the package."""
    export = tmp_path / "export.ldif"
    export.write_text(
        PERSON.format(name="Jan de Vries") + "description:< file:///etc/passwd\n", "utf-8"
    )
    result = _search(tmp_path, export, ("email", "jan@example.org"))
    status = result.sources[0]
    assert status.status == "ok"
    assert any(
        "export.ldif: line 7: the value of description:< was not read: this source does "
        "not allow file URLs" in w
        for w in status.warnings
    ), status.warnings
    assert "root:" not in _values(result)
    assert "Jan de Vries" in _values(result)  # the entry itself is still found


def test_allowed_file_urls_stay_inside_the_exports_directory(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "note.txt").write_text("Desk 4.12", encoding="utf-8")
    (folder / "passwd-link").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe")
    (folder / "huge.bin").write_bytes(b"x" * (2 * 1024 * 1024))
    (tmp_path / "beside.txt").write_text("not the export's", encoding="utf-8")
    export = folder / "export.ldif"
    export.write_text(
        PERSON.format(name="Jan de Vries")
        + "description:< file:note.txt\n"  # line 7: read
        + "description:< file:///etc/passwd\n"  # line 8
        + "description:< file:passwd-link\n"  # line 9
        + "description:< file:pipe\n"  # line 10
        + "description:< file:huge.bin\n"  # line 11
        + "description:< file:../beside.txt\n"  # line 12
        + "description:< http://203.0.113.66/x\n"  # line 13
        + "description:< file://elsewhere.example/etc/passwd\n",  # line 14
        encoding="utf-8",
    )
    result = _search(tmp_path, export, ("email", "jan@example.org"), allow_file_urls=True)
    warnings = {w.split(": the value", 1)[0]: w for w in result.sources[0].warnings}
    expected = {
        8: "is outside the export's directory",
        9: "is outside the export's directory",
        10: "cannot be read (a FIFO (named pipe), not a regular file)",
        11: "has 2,097,152 bytes (limit 1,048,576)",
        12: "is outside the export's directory",
        13: "only file:// URLs are read",
        14: "names another host",
    }
    for line, reason in expected.items():
        assert reason in warnings[f"export.ldif: line {line}"], (line, warnings)
    assert "export.ldif: line 7" not in warnings
    values = _values(result)
    assert "Desk 4.12" in values
    assert "root:" not in values and "not the export's" not in values and "xxxx" not in values


def test_reader_leaves_out_only_the_refused_value(tmp_path: Path) -> None:
    export = tmp_path / "export.ldif"
    export.write_text("dn: uid=a,dc=x\ncn: A\ndescription:< file:///etc/shadow\n", "utf-8")
    stats = LdifStats()
    (entry,) = read_ldif(export, stats, FileUrls(allowed=True, root=tmp_path))
    assert entry.attributes == {"cn": [b"A"]}
    assert len(stats.warnings) == 1 and "line 3" in stats.warnings[0]


# -- the export itself ------------------------------------------------------------------


def test_a_fifo_named_as_the_export_fails_the_source_without_hanging(tmp_path: Path) -> None:
    export = tmp_path / "export.ldif"
    os.mkfifo(export)
    result = _search(tmp_path, export, ("email", "jan@example.org"))
    status = result.sources[0]
    assert status.status == "failed"
    assert "a FIFO (named pipe), not a regular file" in str(status.error)
    assert result.complete is False


def test_an_empty_export_is_reported_incomplete(tmp_path: Path) -> None:
    export = tmp_path / "export.ldif"
    export.write_bytes(b"")
    result = _search(tmp_path, export, ("email", "jan@example.org"))
    status = result.sources[0]
    assert status.status == "ok" and status.truncated is True
    assert any("export.ldif: holds no entries" in w for w in status.warnings)
    assert result.complete is False


def test_a_latin1_export_is_read_and_reported(tmp_path: Path) -> None:
    export = tmp_path / "export.ldif"
    export.write_bytes(PERSON.format(name="José Müller").encode("latin-1"))
    result = _search(tmp_path, export, ("name", "José Müller"))
    status = result.sources[0]
    assert status.truncated is True
    assert any(
        "export.ldif: 1 line(s) are not UTF-8 (first: line 4)" in w for w in status.warnings
    ), status.warnings
    assert "José Müller" in _values(result)  # read as Latin-1, so still found
    assert result.complete is False


def test_nul_bytes_are_reported_with_their_line(tmp_path: Path) -> None:
    export = tmp_path / "export.ldif"
    export.write_bytes(PERSON.format(name="Jan\x00 de Vries").encode("utf-8"))
    result = _search(tmp_path, export, ("email", "jan@example.org"))
    status = result.sources[0]
    assert status.truncated is True
    assert any(
        "export.ldif: 1 line(s) hold NUL bytes (first: line 4)" in w for w in status.warnings
    )


def test_a_base_dn_that_matches_nothing_is_reported(tmp_path: Path) -> None:
    export = tmp_path / "export.ldif"
    export.write_text(PERSON.format(name="Jan de Vries"), encoding="utf-8")
    document_source = {"connection": {"path": str(export), "base_dn": "dc=elsewhere,dc=org"}}
    result = _search(tmp_path, export, ("email", "jan@example.org"), **document_source)
    status = result.sources[0]
    assert status.truncated is True
    assert any("no entry at or below base 'dc=elsewhere,dc=org'" in w for w in status.warnings), (
        status.warnings
    )
    assert result.hits.num_rows == 0
    assert result.complete is False


def test_a_sound_export_is_complete(tmp_path: Path) -> None:
    """The checks above do not fire on a clean export."""
    export = tmp_path / "export.ldif"
    export.write_text(PERSON.format(name="Jan de Vries"), encoding="utf-8")
    result = _search(tmp_path, export, ("email", "jan@example.org"))
    assert result.sources[0].warnings == []
    assert result.complete is True
    assert "Jan de Vries" in _values(result)
