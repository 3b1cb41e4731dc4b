"""The README stays true: its set-up commands are what CI runs, its tables match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connectors import KINDS, load_mapping
from discover.cli import cli
from discover.config import validate
from discover.hits import HIT_COLUMN_DOCS, HITS_SCHEMA
from discover.identifiers import IDENTIFIER_TYPES
from discover.register import default_register
from discover.request import request_from_document

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("| ---"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows[1:]  # without the header row


def test_exactly_two_set_up_commands_and_ci_runs_them() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", _section("Set up"), re.S)
    assert commands == [
        "python3 -m pip install -e '.[test]'"
        " && python3 -m compileall -q discover connectors exporters"
        " && discover demo --out demo",
        "python3 -m pytest",
    ]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command in ci_lines, f"{command!r} is not a line of .ci/run"
    assert "ruff check ." in ci_lines and "ruff format --check ." in ci_lines


def test_hits_table_documents_every_column_as_the_code_does() -> None:
    rows = _table_rows(_section("The hits table"))
    documented = {row[0].strip("`"): row for row in rows}
    assert list(documented) == list(HITS_SCHEMA.names)
    for field in HITS_SCHEMA:
        _, type_text, meaning = documented[field.name]
        assert meaning == HIT_COLUMN_DOCS[field.name]
        assert type_text.endswith("not null") == (not field.nullable), field.name


def test_every_identifier_type_is_documented() -> None:
    rows = _table_rows(_section("Identifiers"))
    assert [row[0].strip("`") for row in rows] == list(IDENTIFIER_TYPES)


def test_every_kind_of_source_is_documented() -> None:
    section = _section("Sources and mappings")
    for kind in KINDS:
        assert f"| `{kind}` |" in section


def test_every_command_is_documented() -> None:
    section = _section("Command line")
    for name, command in cli.commands.items():
        assert f"`discover {name}" in section, name
        if hasattr(command, "commands"):
            for sub in command.commands:
                assert f"`discover {name} {sub}" in section, f"{name} {sub}"


@pytest.mark.parametrize(
    "path", sorted({m for m in re.findall(r"`(mappings/[\w./-]+)`", README)}), ids=str
)
def test_paths_named_in_the_readme_exist(path: str) -> None:
    assert (ROOT / path).exists(), path


def test_every_option_of_batch_and_export_named_in_the_readme_exists() -> None:
    for command in ("export", "batch", "search"):
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        for option in set(re.findall(rf"`discover {command}[^`]*`", README)):
            for flag in re.findall(r"(--[a-z][a-z-]+)", option):
                assert flag in help_text, f"discover {command} has no {flag}"


def test_shipped_mappings_named_in_the_sources_table_exist() -> None:
    rows = _table_rows(_section("Sources and mappings").split("### Mappings")[0])
    named = [name for row in rows for name in re.findall(r"`([\w/.-]+\.yaml)`", row[-1])]
    assert len(named) >= 10
    for name in named:
        assert (ROOT / "mappings" / name).is_file(), name


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_the_request_example_is_a_valid_request() -> None:
    (block,) = _blocks("json")
    request = request_from_document(json.loads(block), file="README.md")
    assert [i.type for i in request.identifiers] == ["email", "phone"]


def test_the_yaml_examples_are_a_valid_sources_file_and_mapping(tmp_path: Path) -> None:
    sources, mapping, *entries = (yaml.safe_load(block) for block in _blocks("yaml"))
    validate(sources, "sources.schema.json", file="README.md")
    for more in entries:  # further examples: sources-file entries
        validate({"version": 1, "sources": more}, "sources.schema.json", file="README.md")
    path = tmp_path / "crm.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    loaded = load_mapping(path, default_register(), expected_kind="sql")
    assert set(loaded.model.tables) == {"contacts", "support_tickets"}


def test_the_demo_section_s_commands_work_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader who builds the demo and types the demo section's commands gets exit 0."""
    import shlex

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["demo", "--out", "demo"]).exit_code == 0
    [block] = re.findall(r"```sh\n(discover search.*?)\n```", _section("The demo"), re.S)
    case = tmp_path / "case1"
    for line in block.splitlines():
        argv = [a.replace("/tmp/case1", str(case)) for a in shlex.split(line)]
        assert argv[0] == "discover"
        result = CliRunner().invoke(cli, argv[1:])
        assert result.exit_code == 0, f"{line}: {result.output}"
    log = json.loads((case / "exports.json").read_text(encoding="utf-8"))["exports"][-1]
    assert log["allow_undecided"] is True and log["exported_by"] == "P. Jansen"
    [decision] = log["decisions_applied"]
    assert decision["source"] == "bakkerij-directory" and decision["action"] == "exclude"
