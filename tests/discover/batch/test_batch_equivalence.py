"""Batch and one-by-one give the same hits per subject.

The engine searches many subjects in one pass per source per round and shares the
records out; these tests hold it to the promise that each subject gets exactly what
a search of its own returns (``observed_at`` aside, which says when a row was read),
on the demo estate and on a generated estate with shared switchboard numbers,
namesakes and call records between the subjects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from batch_support import case_hits, client_options, comparable, read_report, write_csv
from support import synthetic_estate as synthetic

from discover.batch import (
    RequestDefaults,
    plan_shards,
    read_requests,
    run_batch,
)
from discover.demo.estate import DemoLayout
from discover.demo.people import ACME, FATIMA, JAN, NAMESAKE, PIETER, ZOE
from discover.engine import search, search_many
from discover.request import Request
from discover.sources import SourcesConfig, load_sources

DEMO_ROWS = [
    {"request_id": "D-JAN", "email": JAN.email.upper(), "name": JAN.name},
    {"request_id": "D-ZOE", "email": ZOE.email},
    {"request_id": "D-PIETER", "phone": "06-1112 2233"},
    {"request_id": "D-FATIMA", "email": FATIMA.email, "kind": "portability"},
    {"request_id": "D-NAMESAKE", "name": NAMESAKE.name},
    {"request_id": "D-SWITCHBOARD", "phone": ACME.switchboard, "name": JAN.name},
    {"request_id": "D-JAN-MOBILE", "phone": JAN.mobile},
]


def _synth_rows() -> list[dict[str, str]]:
    # about fifty people: e-mail, mobile alone (index % 5 == 0) or e-mail and name
    # (index % 7 == 0); colleagues share switchboards, and call each other.
    rows = synthetic.requests_rows(sorted({*range(1, 300, 11), *range(5, 300, 13)}))
    rows.append(
        {
            "request_id": "S-SHARED",
            "email": "",
            "phone": synthetic.switchboard(0),
            "name": synthetic.person(0).name,
        }
    )
    rows.append(
        {"request_id": "S-NAME", "email": "", "phone": "", "name": synthetic.person(3).name}
    )
    return rows


_SINGLE: dict[tuple[str, str], list] = {}  # (estate root, request id) -> hits


def _single(requests: list[Request], sources: SourcesConfig) -> dict[str, list[Any]]:
    """One single search per subject (cached for the module: they are the slow part)."""
    hits = {}
    for request in requests:
        key = (str(sources.path), request.request_id)
        if key not in _SINGLE:
            _SINGLE[key] = comparable(search(request, sources).hits)
        hits[request.request_id] = _SINGLE[key]
    return hits


def _sharded(requests: list[Request], sources: SourcesConfig, size: int) -> dict[str, list[Any]]:
    hits = {}
    for start in range(0, len(requests), size):
        for result in search_many(requests[start : start + size], sources):
            hits[result.request.request_id] = comparable(result.hits)
    return hits


@pytest.mark.parametrize("estate", ["demo", "synth"])
def test_search_many_gives_each_subject_its_single_search_hits(
    estate: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    layout = request.getfixturevalue(estate)
    rows = DEMO_ROWS if estate == "demo" else _synth_rows()
    batch_input = read_requests(write_csv(tmp_path / "requests.csv", rows))
    assert not batch_input.invalid
    requests = [item.request for item in batch_input.items]
    sources = load_sources(layout.sources)

    single = _single(requests, sources)
    assert all(single.values()), "every subject has hits; otherwise the comparison is empty"
    for size in sorted({len(requests), 25, 7}):
        batched = _sharded(requests, sources, size)
        for request_id, hits in single.items():
            assert batched[request_id] == hits, f"{request_id} differs in shards of {size}"


def test_synthetic_batch_exercises_the_guard_and_expansion(
    synth: synthetic.SynthEstate, tmp_path: Path
) -> None:
    """The generated estate really has what makes batching hard (else equality proves little)."""
    batch_input = read_requests(write_csv(tmp_path / "requests.csv", _synth_rows()))
    results = search_many([item.request for item in batch_input.items], load_sources(synth.sources))
    matches = {m for result in results for m in result.hits.column("match").to_pylist()}
    assert {"exact", "normalised", "expanded", "related", "possible"} <= matches
    stopped = [
        t
        for result in results
        for t in result.traces
        if t.stopped and ("shared" in t.stopped or "organisation identifier" in t.stopped)
    ]
    assert stopped, "some subject's switchboard is held by many people and must stop expansion"
    third_party = sum(sum(result.hits.column("third_party").to_pylist()) for result in results)
    assert third_party > 0
    sources = {s for result in results for s in result.hits.column("source").to_pylist()}
    expected = {"crm", "telephony"} | ({"inventory"} if synthetic.tabular_available() else set())
    assert sources == expected


@pytest.mark.parametrize("estate", ["demo", "synth"])
def test_batch_cases_hold_the_single_search_hits(
    estate: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    layout = request.getfixturevalue(estate)
    rows = DEMO_ROWS if estate == "demo" else _synth_rows()
    requests_file = write_csv(tmp_path / "requests.csv", rows)
    out = tmp_path / "out"
    # Small chunks: identifiers of one round split over several queries per column.
    options = client_options(shard_size=20, chunk_size=7)
    report = run_batch(requests_file, layout.sources, out, options)
    assert report["totals"]["complete"] == len(rows)
    assert report["settings"]["chunk_size"] == 7
    items = read_requests(requests_file).items
    single = _single([item.request for item in items], load_sources(layout.sources))
    for item in items:
        assert case_hits(out / "cases" / item.request_id) == single[item.request_id], (
            item.request_id
        )
    assert read_report(out)["settings"]["shards"] == len(
        plan_shards(read_requests(requests_file).items, shard_size=20, workers=1)
    )


def test_defaults_apply_to_rows_without_them(demo: DemoLayout, tmp_path: Path) -> None:
    rows = [
        {"request_id": "D-1", "email": ZOE.email},
        {"request_id": "D-2", "email": PIETER.email, "kind": "access"},
    ]
    batch_input = read_requests(
        write_csv(tmp_path / "r.csv", rows),
        defaults=RequestDefaults(kind="portability", language="en"),
    )
    kinds = {
        item.request_id: (item.request.kind, item.request.language) for item in batch_input.items
    }
    assert kinds == {"D-1": ("portability", "en"), "D-2": ("access", "en")}
