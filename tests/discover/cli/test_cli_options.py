"""Options shared by several commands: the same parsing and the same messages."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from discover.cli import cli
from discover.cli.options import parse_formats


def test_formats_are_kept_once_in_the_order_given() -> None:
    assert parse_formats(None, None, " XLSX, json ,xlsx,,csv") == ("xlsx", "json", "csv")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["json,pdf", " , "])
def test_unknown_or_no_format_is_bad_input(value: str) -> None:
    with pytest.raises(click.BadParameter) as caught:
        parse_formats(None, None, value)  # type: ignore[arg-type]
    assert "expected some of json, csv, xlsx" in str(caught.value)


@pytest.mark.parametrize("command", [["export", "CASE"], ["batch", "requests.csv"]])
def test_export_and_batch_refuse_an_unknown_format_with_exit_code_2(
    command: list[str], tmp_path: Path
) -> None:
    args = [*command, "--format", "json,pdf"]
    if command[0] == "batch":
        args += ["--sources", str(tmp_path / "sources.yaml"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "'--format': 'pdf': expected some of json, csv, xlsx" in result.output
    assert "Traceback" not in result.output
