"""What ``discover batch`` prints: every request for a small batch, totals for a large one."""

from __future__ import annotations

from pathlib import Path

from batch_support import CLIENT_ARGS, read_report
from click.testing import CliRunner
from support import synthetic_estate as synthetic
from support.synthetic_estate import SynthEstate

from discover.cli import cli
from discover.cli.batch import TABLE_LIMIT


def _run(synth: SynthEstate, tmp_path: Path, rows: list[dict[str, str]]) -> tuple[int, str, Path]:
    requests = tmp_path / "requests.csv"
    synthetic.write_requests_csv(requests, rows)
    out = tmp_path / "out"
    arguments = [
        "batch",
        str(requests),
        *CLIENT_ARGS,
        "--sources",
        str(synth.sources),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, [*arguments, "--no-progress", "--format", "json"])
    return result.exit_code, result.output, out


def test_a_large_batch_prints_counts_failures_and_the_report_path(
    synth: SynthEstate, tmp_path: Path
) -> None:
    rows = synthetic.requests_rows(range(1, TABLE_LIMIT + 6))
    rows[3]["email"], rows[3]["phone"] = "", "12345"  # not a phone number: invalid
    code, output, out = _run(synth, tmp_path, rows)
    assert code == 2, output
    report = read_report(out)
    assert len(report["requests"]) == TABLE_LIMIT + 5
    # counts, the one failure with its reason, and where the full report is
    assert f"{TABLE_LIMIT + 5} requests: {TABLE_LIMIT + 4} done, 1 invalid" in output
    assert rows[3]["request_id"] in output and "phone" in output
    assert str(out / "batch-report.json") in output.replace("\n", "")
    # not a line per request
    assert rows[0]["request_id"] not in output and rows[-1]["request_id"] not in output


def test_a_small_batch_prints_every_request(synth: SynthEstate, tmp_path: Path) -> None:
    rows = synthetic.requests_rows(range(1, 4))
    code, output, _ = _run(synth, tmp_path, rows)
    assert code == 0, output
    assert "3 requests: 3 done" in output
    # a table row per request (the request ids may be cut to the terminal's width)
    assert len([line for line in output.splitlines() if "│ done" in line]) == 3
