"""`discover export`: formats, exit codes, --force, encryption without a passphrase argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.synthetic_case import write_synthetic_case

from discover.cli import cli
from discover.files import write_json
from exporters import verify_package


@pytest.fixture
def case(tmp_path: Path) -> Path:
    path = tmp_path / "case"
    write_synthetic_case(path, 300)
    return path


def test_export_all_formats(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "export",
            str(case),
            "--kind",
            "portability",
            "--format",
            "json,csv,xlsx",
            "--lang",
            "en",
            "--out",
            str(out),
            "--allow-undecided",
            "--controller",
            "all",
            "--client-instruction",
            "ACME-2026-17",
        ],
    )
    assert result.exit_code == 0, result.output
    package = out / "REQ-SYNTH-0001-portability"
    assert verify_package(package) == []
    names = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {
        "portability.json",
        "portability.xlsx",
        "csv/metadata.json",
        "contacts.vcf",
        "README.txt",
        "manifest.json",
        "SHA256SUMS",
    } <= names
    assert "attention" in result.output  # possible matches await review


def test_existing_package_exit_2_unless_force(case: Path, tmp_path: Path) -> None:
    args = ["export", str(case), "--out", str(tmp_path / "out"), "--allow-undecided"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert CliRunner().invoke(cli, [*args, "--force"]).exit_code == 0


def test_bad_format_and_controller_exit_2(case: Path) -> None:
    assert CliRunner().invoke(cli, ["export", str(case), "--format", "pdf"]).exit_code == 2
    assert CliRunner().invoke(cli, ["export", str(case), "--controller", "x"]).exit_code == 2


def test_incomplete_case_exits_1(tmp_path: Path) -> None:
    case = tmp_path / "case"
    write_synthetic_case(case, 100, failed_source="acme-directory")
    result = CliRunner().invoke(
        cli, ["export", str(case), "--out", str(tmp_path / "o"), "--allow-undecided"]
    )
    assert result.exit_code == 1 and "INCOMPLETE" in result.output


def test_encryption_takes_the_passphrase_from_the_environment(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["export", str(case), "--encrypt", "passphrase", "--out", str(out), "--allow-undecided"],
        env={"DISCOVER_PASSPHRASE": "a long enough passphrase"},
    )
    assert result.exit_code == 0, result.output
    package = out / "REQ-SYNTH-0001-access-provider"
    assert (package / "REQ-SYNTH-0001-access-provider.zip").is_file()
    assert json.loads((package / "manifest.json").read_text())["encrypted"] is True
    assert "a long enough passphrase" not in result.output
    no_passphrase = CliRunner().invoke(
        cli,
        [
            "export",
            str(case),
            "--encrypt",
            "passphrase",
            "--out",
            str(tmp_path / "o2"),
            "--allow-undecided",
        ],
        env={"DISCOVER_PASSPHRASE": ""},
    )
    assert no_passphrase.exit_code == 2 and "DISCOVER_PASSPHRASE" in no_passphrase.output
    # there is no option that takes the passphrase itself
    as_argument = CliRunner().invoke(
        cli, ["export", str(case), "--passphrase", "secret-on-the-command-line"]
    )
    assert as_argument.exit_code == 2


def test_generated_passphrase_is_printed_once(case: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "export",
            str(case),
            "--encrypt",
            "generate",
            "--out",
            str(tmp_path / "out"),
            "--allow-undecided",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "passphrase (send it separately" in result.output


def test_an_incomplete_case_says_why_a_failed_source_or_a_rejected_identifier(
    tmp_path: Path,
) -> None:
    failed = tmp_path / "failed"
    write_synthetic_case(failed, 100, failed_source="acme-directory")
    result = CliRunner().invoke(
        cli, ["export", str(failed), "--out", str(tmp_path / "o1"), "--allow-undecided"]
    )
    assert result.exit_code == 1
    assert "INCOMPLETE (failed: acme-directory)" in " ".join(result.output.split())

    rejected = tmp_path / "rejected"
    write_synthetic_case(rejected, 100)
    summary = json.loads((rejected / "summary.json").read_text(encoding="utf-8"))
    summary["complete"] = False
    summary["rejected_identifiers"] = [
        {"type": "phone", "value": "06-123 45", "reason": "not valid", "place": "--phone"}
    ]
    write_json(rejected / "summary.json", summary)
    result = CliRunner().invoke(
        cli, ["export", str(rejected), "--out", str(tmp_path / "o2"), "--allow-undecided"]
    )
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "INCOMPLETE (rejected: phone 06-123 45)" in flat
    assert "failed" not in flat.split("INCOMPLETE")[1]
