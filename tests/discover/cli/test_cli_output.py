"""The printed summary: per source and category, failures named, identifiers never cut."""

from __future__ import annotations

import json

import pytest

from discover.cli.output import console, print_json, print_summary

SUMMARY = {
    "complete": False,
    "failed_sources": ["billing"],
    "sources": [
        {
            "name": "crm",
            "kind": "sql",
            "status": "ok",
            "records": 3,
            "hits": 17,
            "categories": {"general.contact": 12, "general.support": 5},
        },
        {
            "name": "billing",
            "kind": "sql",
            "status": "failed",
            "error": "OperationalError: connection refused [port 1]",
            "records": 0,
            "hits": 0,
            "categories": {},
        },
    ],
    "identifiers": [
        {
            "identifier": "email:a.very.long.address.for.testing@subdomain.example-organisation.nl",
            "depth": 0,
            "found_in": None,
            "searched": True,
            "stopped": None,
        }
    ],
    "totals": {
        "records": 3,
        "hits": 17,
        "needs_review": 0,
        "overdue": 1,
        "secrets_withheld": 2,
        "third_party": 0,
    },
    "warnings": ["something to look at"],
}


def test_summary_per_source_and_category(capsys: pytest.CaptureFixture[str]) -> None:
    console.cache_clear()
    print_summary(SUMMARY, case_path="cases/x")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("crm" in line and "general.contact 12" in line for line in lines)
    assert any("general.support 5" in line and "crm" not in line for line in lines)  # own line
    assert any("billing" in line and "failed (see below)" in line for line in lines)
    assert "source billing failed: OperationalError: connection refused [port 1]" in " ".join(
        out.split()
    )
    identifiers = out[out.index("Identifiers") :]
    first_cells = [line.split("│")[1].strip() for line in identifiers.splitlines() if "│" in line]
    identifier = "email:a.very.long.address.for.testing@subdomain.example-organisation.nl"
    assert "".join(first_cells) == identifier  # folded over lines, never cut
    assert "…" not in out
    assert (
        "3 records, 17 hits; 0 possible (need review), 1 overdue, 2 secrets withheld"
        in " ".join(out.split())
    )
    assert "warning: something to look at" in out
    assert "INCOMPLETE (billing): case written to cases/x" in out
    console.cache_clear()


def test_print_json_is_plain(capsys: pytest.CaptureFixture[str]) -> None:
    print_json({"when": __import__("datetime").date(2026, 1, 2), "name": "Zoë"})
    assert json.loads(capsys.readouterr().out) == {"when": "2026-01-02", "name": "Zoë"}


def test_source_warnings_are_printed_with_their_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.cache_clear()
    summary = json.loads(json.dumps(SUMMARY))
    summary["sources"][0]["warnings"] = [f"f{n}.csv: parsing stopped at line 3" for n in range(7)]
    print_summary(summary, case_path="cases/x")
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: source crm: f0.csv: parsing stopped at line 3" in out
    assert "f4.csv" in out and "f5.csv" not in out  # capped; the rest is in summary.json
    assert "source crm: 2 more warning(s) in summary.json" in out


def test_the_search_command_and_json_output_load_no_rich() -> None:
    """rich loads when something is shown: a --json search prints without it."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys\n"
        "import discover.cli.search\n"
        "from discover.cli.output import print_json\n"
        "print_json({'a': 1})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    root = Path(__file__).resolve().parents[3]
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    assert run.stdout.splitlines()[-1] == "[]"


def test_escape_is_richs() -> None:
    from rich.markup import escape as rich_escape

    from discover.cli.output import escape

    for text in ("[/x]", "a[bold]b", ":x:", "00:15:65:ab:cd", "plain", "\\[x]"):
        assert escape(text) == rich_escape(text)
