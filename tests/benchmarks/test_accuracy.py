"""The accuracy harness on a small estate: every subject's records, nobody else's.

Nine real sources (SQLite, LDIF, a provisioning directory, CSV and XLSX files),
written with the truth of whose record is whose; the harness searches every subject
as one batch and one by one and scores the results against that truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import accuracy
from benchmarks.accuracy_estate import Estate, generate
from discover.engine import search_many
from discover.request import build_request
from discover.sources import load_sources


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    return generate(tmp_path_factory.mktemp("accuracy"), orgs=6, seed=3, large=(6, 10))


@pytest.fixture(scope="module")
def report(estate: Estate) -> accuracy.Report:
    return accuracy.measure(estate)


def test_precision_and_recall_are_perfect_in_every_source(report: accuracy.Report) -> None:
    assert report.mistakes == []
    assert (report.overall.precision, report.overall.recall) == (1.0, 1.0)
    assert set(report.per_source) == {
        "crm", "telephony", "directory", "voip", "devices", "sims", "roaming", "bundles",
        "keyholders",
    }  # fmt: skip
    for source, tally in report.per_source.items():
        assert tally.true_positive > 0, source
        assert (tally.precision, tally.recall) == (1.0, 1.0), source
    assert report.batch_differs == [] and report.secrets == []
    assert report.incomplete == 1  # the request with a mistyped phone


def test_the_traps_are_really_there(estate: Estate) -> None:
    """Else a perfect score proves little: switchboards, role mailboxes, homonyms,
    a general number that is someone's mobile, float ICCIDs and a re-issued number."""
    sources = load_sources(estate.sources, environ={})
    requests = [
        build_request(r.identifiers, request_id=r.request_id, strict=False) for r in estate.requests
    ]
    results = search_many(requests, sources)
    stopped = {(s["kind"], s["reason"].split(" ")[0]) for r in results for s in r.stopped}
    assert ("organisation", "held") in stopped  # a switchboard in the organisations table
    assert any(s["kind"] == "shared" for r in results for s in r.stopped)  # homonyms' uid
    warnings = [w for r in results for w in r.warnings]
    # an ICCID Excel stored as a number is the subject's, unreadable, and said so
    assert any("].iccid: stored value" in w and "cannot be read" in w for w in warnings)
    matches = {m for r in results for m in r.hits.column("match").to_pylist()}
    assert {"exact", "normalised", "expanded", "related", "possible"} <= matches
    [partial] = [r for r in results if r.request.rejected]
    assert partial.request.rejected[0].value == "06-123 45" and partial.hits.num_rows
    people = [p for p in estate.people.values() if p.left]
    assert people and any(p.org.general != p.org.switchboard for p in estate.people.values())


def test_the_harness_sees_a_leak(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the engine's judgement of identifiers switched off, colleagues' records leak
    through the switchboard and the harness says so."""
    monkeypatch.setattr("discover.engine.judge", lambda *args, **kwargs: None)
    leaky = accuracy.measure(estate, singles=False)
    assert leaky.overall.precision < 1.0
    assert any(" as expanded" in mistake for mistake in leaky.mistakes)


def test_the_command_prints_the_figures(estate: Estate, capsys: pytest.CaptureFixture) -> None:
    assert accuracy.main(["--orgs", "3", "--seed", "5", "--no-singles"]) == 0
    out = capsys.readouterr().out
    assert "overall" in out and "1.000    1.000" in out


def test_generated_files_cover_every_source_kind(estate: Estate) -> None:
    names = {path.name for path in Path(estate.root).rglob("*") if path.is_file()}
    assert {"crm.sqlite", "telephony.sqlite", "directory.ldif", "devices.csv", "sims.xlsx",
            "roaming.csv", "bundles.csv", "keyholders.xlsx", "phonebook.xml"} <= names  # fmt: skip
    assert any(name.endswith(".cfg") for name in names)
