"""Strict parsing of every YAML and JSON file a user hands discover: no key given
twice, no alias bombs; and sources files that cannot search anything are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.synthetic_case import write_synthetic_case

from discover.case import SUMMARY_FILE, read_case
from discover.cli import cli
from discover.config import MAX_ALIAS_EXPANSION, parse_json, read_document
from discover.errors import CaseError, ConfigError

#: 9 aliases a level, 8 levels: 9^8 (43 million) strings from 1.3 KB
BOMB = (
    "version: 1\na: &a ["
    + ", ".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        for previous, name in zip("abcdefg", "bcdefgh", strict=True)
    )
    + "sources: [*h]\n"
)

SOURCE = """\
  - name: {name}
    kind: sql
    mapping: shipped:demo/crm.yaml
    connection:
      url: sqlite:///crm.sqlite
"""


def check(*args: str) -> Result:
    return CliRunner().invoke(cli, ["mappings", "check", *args])


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    sources = write(tmp_path, "sources.yaml", BOMB)
    assert len(BOMB) < 1500
    result = check("--sources", str(sources))
    assert result.exit_code == 2, result.output
    assert "sources.yaml" in result.output and f"more than {MAX_ALIAS_EXPANSION}" in result.output
    assert "Traceback" not in result.output


def test_an_alias_that_refers_to_itself_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "loop.yaml", "a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="refer to themselves"):
        read_document(path)


def test_small_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ok.yaml",
        "base: &base {url: x, timeout: 3}\nother:\n  <<: *base\n  url: y\nlist: [*base, *base]\n",
    )
    document = read_document(path)
    assert document["other"] == {"url": "y", "timeout": 3}  # an explicit key beats a merge
    assert document["list"] == [{"url": "x", "timeout": 3}] * 2


def test_a_duplicate_key_in_a_sources_file_names_both_lines(tmp_path: Path) -> None:
    text = "version: 1\nsources:\n" + SOURCE.format(name="crm") + "    kind: ldap\n"
    sources = write(tmp_path, "sources.yaml", text)
    result = check("--sources", str(sources))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "sources.yaml: line 8 column 5" in message
    assert "duplicate key 'kind' (lines 4 and 8)" in message


def test_a_duplicate_key_in_a_mapping_is_refused(tmp_path: Path) -> None:
    mapping = write(
        tmp_path,
        "crm.yaml",
        "version: 1\nkind: sql\ntables:\n  contacts:\n    key: id\n    category: general.contact\n"
        "    columns: {id: {}, email: {identifier: email}}\n    key: email\n",
    )
    result = check(str(mapping))
    assert result.exit_code == 2, result.output
    assert "duplicate key 'key' (lines 5 and 8)" in " ".join(result.output.split())


def test_a_duplicate_key_in_a_request_file_is_refused(tmp_path: Path) -> None:
    request = write(
        tmp_path,
        "request.json",
        '{\n  "version": 1,\n  "request_id": "REQ-A",\n  "identifiers": '
        '[{"type": "email", "value": "a@example.nl"}],\n  "request_id": "REQ-B"\n}\n',
    )
    sources = write(tmp_path, "sources.yaml", "version: 1\nsources:\n" + SOURCE.format(name="a"))
    case = tmp_path / "case"
    result = CliRunner().invoke(
        cli,
        ["search", "--sources", str(sources), "--request", str(request), "--case", str(case)],
    )
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "request.json: line 5: duplicate key 'request_id' (lines 3 and 5)" in message
    assert not (tmp_path / "case").exists()


def test_duplicate_keys_in_nested_json_objects_and_lines() -> None:
    text = '{"a": {"x": 1, "y": {"x": 2}},\n "b": [{"k": 1}, {"k": 2}],\n "c": {"z": 1,\n "z": 2}}'
    with pytest.raises(ConfigError, match=r"line 4: duplicate key 'z' \(lines 3 and 4\)"):
        parse_json(text, file="f.json")
    assert parse_json('{"a": {"x": 1}, "b": {"x": 1}}', file="f.json") == {
        "a": {"x": 1},
        "b": {"x": 1},
    }
    with pytest.raises(ConfigError, match=r"twice on line 7"):
        parse_json('{"email": "a", "email": "b"}', file="requests.jsonl", first_line=7)


def test_a_duplicate_key_in_a_case_file_is_refused(tmp_path: Path) -> None:
    case = tmp_path / "case"
    write_synthetic_case(case, 50)
    summary = (case / SUMMARY_FILE).read_text(encoding="utf-8")
    doubled = summary.replace('"complete": ', '"complete": false,\n  "complete": ', 1)
    (case / SUMMARY_FILE).write_text(doubled, encoding="utf-8")
    with pytest.raises(CaseError, match=r"summary.json: line \d+: duplicate key 'complete'"):
        read_case(case)


def test_every_source_disabled_is_refused(tmp_path: Path) -> None:
    text = "version: 1\nsources:\n" + SOURCE.format(name="a") + "    enabled: false\n"
    sources = write(tmp_path, "sources.yaml", text)
    result = check("--sources", str(sources))
    assert result.exit_code == 2, result.output
    assert "sources.yaml: sources: every source is disabled" in " ".join(result.output.split())
    searched = CliRunner().invoke(
        cli,
        ["search", "--sources", str(sources), "--email", "a@x.nl", "--case", str(tmp_path / "c")],
    )
    assert searched.exit_code == 2 and "every source is disabled" in searched.output
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("kind", "key", "mapping"),
    [
        ("sql", "url", "shipped:demo/crm.yaml"),
        ("ldif", "path", "shipped:directory/inetorgperson.yaml"),
        ("voip", "directory", "shipped:voip/provisioning.yaml"),
    ],
)
def test_a_connection_without_what_it_opens_fails_the_offline_check(
    tmp_path: Path, kind: str, key: str, mapping: str
) -> None:
    text = (
        f"version: 1\nsources:\n  - name: s\n    kind: {kind}\n    mapping: {mapping}\n"
        f"    connection: {{{key}: '${{UNSET:-}}'}}\n"
    )
    sources = write(tmp_path, "sources.yaml", text)
    result = check("--sources", str(sources))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"sources.yaml: sources[0].connection.{key}: a {kind} source needs {key}" in message


def test_a_source_name_too_long_for_a_file_name_is_refused(tmp_path: Path) -> None:
    sources = write(
        tmp_path, "sources.yaml", "version: 1\nsources:\n" + SOURCE.format(name="c" * 300)
    )
    result = check("--sources", str(sources))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "sources[0].name" in message and "at most 64 characters" in message
