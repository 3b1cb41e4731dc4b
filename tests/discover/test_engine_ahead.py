"""A single search starts a source's next-round scan while the round's last scans run.

The next round's identifiers are found from the scans that have ended, by the round's
own steps run on a copy of the subject; a scan started ahead is used only when the
round gives that source exactly those identifiers, else it is dropped and the source
scanned again. Either way the result is the one a search without looking ahead gives.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engine_support import build_demo, demo, search_with, sql_source

from connectors import load_mappings
from connectors.heap import building
from connectors.sql.connector import SqlConnector
from discover.demo.people import JAN
from discover.engine import SearchResult, open_connectors
from discover.register import default_register
from discover.sources import SourcesConfig

#: a bound for a broken build, never a measure
PATIENCE = 20


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = build_demo(tmp_path_factory.mktemp("demo"))
    # an archive copy of the CRM that knows one more number of Jan's
    shutil.copy(directory / "crm.sqlite", directory / "archive.sqlite")
    with sqlite3.connect(directory / "archive.sqlite") as db:
        db.execute(
            "UPDATE contacts SET phone = '+31 10 555 0199' WHERE lower(email) = ?", (JAN.email,)
        )
    return directory


class _Watched(SqlConnector):
    """A real SQL connector that says when each of its scans starts, and with what."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started = threading.Event()
        self.scans: list[list[str]] = []
        #: set (by a test) to make the first scan wait for another source's to start
        self.wait_for: threading.Event | None = None
        self.saw: bool | None = None

    def scan(self, identifiers):  # type: ignore[no-untyped-def]
        self.scans.append(sorted(str(i) for i in identifiers))
        self.started.set()
        if self.hang is not None:
            self.hang.wait(timeout=PATIENCE)  # a source that stops answering
        if self.wait_for is not None and self.saw is None:
            if self.builds:  # as a first search's index build
                with building():
                    self.saw = self.wait_for.wait(timeout=self.patience)
            else:
                self.saw = self.wait_for.wait(timeout=self.patience)
        return super().scan(identifiers)

    patience: float = PATIENCE
    builds: bool = False
    hang: threading.Event | None = None


def _connectors(sources: SourcesConfig) -> dict[str, _Watched]:
    register = default_register()
    plain = open_connectors(sources, load_mappings(sources, register), register)
    return {c.name: _Watched(c.source, c.mapping, register, sources.settings) for c in plain}


def _search(sources: SourcesConfig, connectors: dict[str, _Watched]) -> SearchResult:
    return search_with(sources, list(connectors.values()), ("email", JAN.email), request_id="REQ-A")


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "observed_at"} for r in table.to_pylist()]


def _statuses(result: SearchResult) -> list[tuple[Any, ...]]:
    return [(s.name, s.status, s.scans, s.rows_read, s.truncated) for s in result.sources]


def _estate(demo_dir: Path, **settings: Any) -> SourcesConfig:
    archive = sql_source("archive", "shipped:demo/crm.yaml", "sqlite:///archive.sqlite")
    return demo(demo_dir, extra=[archive], parallel_sources=2, **settings)


def _without_looking_ahead(demo_dir: Path) -> SearchResult:
    sources = _estate(demo_dir, scan_ahead=False)
    return _search(sources, _connectors(sources))


def test_the_next_rounds_scan_starts_while_the_round_still_runs(demo_dir: Path) -> None:
    sources = _estate(demo_dir)
    connectors = _connectors(sources)
    # the archive's round-0 scan (by e-mail) waits until the call records' scan starts:
    # it can only start ahead, from the numbers in the CRM's records
    connectors["archive"].wait_for = connectors["telephony"].started
    result = _search(sources, connectors)
    assert connectors["archive"].saw is True
    assert connectors["telephony"].scans[0] == ["phone:+31102345678", "phone:+31612345678"]
    assert result.complete


def test_a_scan_started_with_other_identifiers_is_dropped_and_the_source_scanned_again(
    demo_dir: Path,
) -> None:
    sources = _estate(demo_dir)
    connectors = _connectors(sources)
    connectors["archive"].wait_for = connectors["telephony"].started
    result = _search(sources, connectors)
    scans = connectors["telephony"].scans
    # ahead: the numbers the CRM gave; then the round's: the archive's extra number too
    assert len(scans) == 2
    assert "phone:+31105550199" not in scans[0]
    assert "phone:+31105550199" in scans[1]
    expected = _without_looking_ahead(demo_dir)
    assert _rows(result.hits) == _rows(expected.hits)
    assert _statuses(result) == _statuses(expected)  # the dropped scan is not counted


def test_a_scan_started_ahead_with_the_rounds_identifiers_is_the_rounds_scan(
    demo_dir: Path,
) -> None:
    sources = demo(demo_dir, parallel_sources=2, max_depth=3)
    connectors = _connectors(sources)
    result = _search(sources, connectors)
    expected_sources = demo(demo_dir, parallel_sources=2, scan_ahead=False)
    expected_connectors = _connectors(expected_sources)
    expected = _search(expected_sources, expected_connectors)
    assert _rows(result.hits) == _rows(expected.hits)
    assert _statuses(result) == _statuses(expected)
    for name in connectors:  # every scan was used: none was made twice
        assert connectors[name].scans == expected_connectors[name].scans


def test_no_scan_starts_ahead_when_the_sources_file_says_so(demo_dir: Path) -> None:
    sources = _estate(demo_dir, scan_ahead=False)
    connectors = _connectors(sources)
    connectors["archive"].wait_for = connectors["telephony"].started
    connectors["archive"].patience = 0.5  # it will not come: the round waits for the archive
    result = _search(sources, connectors)
    assert connectors["archive"].saw is False
    assert len(connectors["telephony"].scans) == 1
    assert result.complete


@pytest.mark.parametrize("archive", [True, False], ids=["dropped", "used"])
def test_a_scan_started_ahead_that_hangs_fails_its_source_as_timed_out(
    demo_dir: Path, archive: bool
) -> None:
    sources = (
        _estate(demo_dir, time_limit=2)
        if archive
        else demo(demo_dir, parallel_sources=2, time_limit=2)
    )
    connectors = _connectors(sources)
    released = threading.Event()
    connectors["telephony"].hang = released
    if archive:
        connectors["archive"].wait_for = connectors["telephony"].started
    try:
        result = _search(sources, connectors)
    finally:
        released.set()
    status = {s.name: s for s in result.sources}
    assert status["telephony"].status == "failed"
    assert "timed out" in (status["telephony"].error or "")
    assert len(connectors["telephony"].scans) == 1  # never scanned again once abandoned
    assert status["crm"].status == "ok"
    assert not result.complete


def test_no_scan_starts_ahead_while_a_source_builds_its_index(demo_dir: Path) -> None:
    sources = _estate(demo_dir)
    connectors = _connectors(sources)
    connectors["archive"].wait_for = connectors["telephony"].started
    connectors["archive"].builds = True
    connectors["archive"].patience = 0.5  # the call records wait for the build to end
    result = _search(sources, connectors)
    assert connectors["archive"].saw is False
    assert len(connectors["telephony"].scans) == 1  # scanned in its round, once
    assert result.complete
