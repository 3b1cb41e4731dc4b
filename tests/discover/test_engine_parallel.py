"""Sources of one round are scanned side by side, and the outcome is the same as one by one."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engine_support import build_demo, demo, search_with

from connectors import load_mappings
from connectors.sql.connector import SqlConnector
from discover.demo.people import JAN, PEOPLE
from discover.engine import open_connectors, search, search_many
from discover.register import default_register
from discover.request import build_request


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"))


class _Meeting(SqlConnector):
    """A real SQL connector whose first scan waits until the other source's has begun."""

    def __init__(self, *args: Any, meeting: threading.Barrier, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = meeting
        self.met: bool | None = None

    def scan(self, identifiers):  # type: ignore[no-untyped-def]
        if self.met is None:
            try:
                self.meeting.wait(timeout=20)  # a bound for a broken build, not a measure
                self.met = True
            except threading.BrokenBarrierError:
                self.met = False
        return super().scan(identifiers)


def _meeting_connectors(sources: Any) -> list[_Meeting]:
    register = default_register()
    plain = open_connectors(sources, load_mappings(sources, register), register)
    meeting = threading.Barrier(len(plain))
    return [
        _Meeting(c.source, c.mapping, register, sources.settings, meeting=meeting) for c in plain
    ]


def test_two_sources_of_one_round_are_scanned_at_the_same_time(demo_dir: Path) -> None:
    sources = demo(demo_dir, parallel_sources=2)
    connectors = _meeting_connectors(sources)
    result = search_with(
        sources, connectors, ("email", JAN.email), ("phone", JAN.mobile), request_id="REQ-P"
    )
    assert [c.met for c in connectors] == [True, True]  # each saw the other begin
    assert result.complete and result.hits.num_rows > 0


def test_one_after_another_when_asked(demo_dir: Path) -> None:
    sources = demo(demo_dir, parallel_sources=1)
    connectors = _meeting_connectors(sources)
    connectors[0].meeting = threading.Barrier(2, timeout=0.5)  # the other never comes
    connectors[1].meeting = connectors[0].meeting
    search_with(sources, connectors, ("email", JAN.email), request_id="REQ-S")
    assert connectors[0].met is False  # it waited alone: the other had not begun


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if k not in ("observed_at",)} for row in table.to_pylist()
    ]


def test_side_by_side_finds_what_one_by_one_finds(demo_dir: Path) -> None:
    requests = [build_request([("email", p.email)], request_id=f"R-{p.key}") for p in PEOPLE]
    together = search_many(requests, demo(demo_dir, parallel_sources=4))
    alone = search_many(requests, demo(demo_dir, parallel_sources=1))
    for first, second in zip(together, alone, strict=True):
        assert _rows(first.hits) == _rows(second.hits)
        assert [(s.name, s.status, s.scans, s.rows_read) for s in first.sources] == [
            (s.name, s.status, s.scans, s.rows_read) for s in second.sources
        ]


class _Ordered(SqlConnector):
    """A real SQL connector that notes when its scans start; ``first``: what its
    :meth:`starts_first` says."""

    def __init__(self, *args: Any, started: list[str], first: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started, self.first = started, first

    def starts_first(self) -> bool:
        return self.first

    def scan(self, identifiers):  # type: ignore[no-untyped-def]
        self.started.append(self.name)
        return super().scan(identifiers)


def _ordered_search(demo_dir: Path, first: str | None) -> tuple[list[str], Any]:
    """Three sources searched by e-mail on two workers; ``first`` starts first."""
    archives = [
        {"name": name, "kind": "sql", "mapping": "shipped:demo/crm.yaml"}
        | {"connection": {"url": "sqlite:///crm.sqlite"}}
        for name in ("archive", "old-crm")
    ]
    sources = demo(demo_dir, extra=archives, parallel_sources=2, scan_ahead=False)
    register = default_register()
    plain = open_connectors(sources, load_mappings(sources, register), register)
    started: list[str] = []
    connectors = [
        _Ordered(
            c.source, c.mapping, register, sources.settings, started=started, first=c.name == first
        )
        for c in plain
    ]
    return started, search_with(sources, connectors, ("email", JAN.email), request_id="REQ-O")


def test_a_source_that_parses_whole_files_starts_first_in_its_round(demo_dir: Path) -> None:
    started, result = _ordered_search(demo_dir, first="old-crm")
    assert set(started[:2]) == {"old-crm", "crm"}  # old-crm is listed last of the round
    assert started[2] == "archive"
    plain_started, plain = _ordered_search(demo_dir, first=None)
    assert set(plain_started[:2]) == {"crm", "archive"}
    # the order the scans start in changes no result, nor the order of the hits
    assert result.hits.drop(["observed_at"]).equals(plain.hits.drop(["observed_at"]))
    assert [s.name for s in result.sources] == [s.name for s in plain.sources]


def test_the_imsi_database_is_read_ahead_when_a_source_takes_imsis(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import discover.engine as engine_module

    started: list[int] = []
    monkeypatch.setattr(engine_module, "read_imsi_database_ahead", lambda: started.append(1))
    request = build_request([("email", JAN.email)], request_id="REQ-I")
    search(request, demo(demo_dir))  # the CRM and the call records take no IMSI
    assert started == []
    (demo_dir / "roaming.csv").write_text("imsi,msisdn,country,sent_at\n", encoding="utf-8")
    roaming = {
        "name": "roaming",
        "kind": "tabular",
        "mapping": "shipped:mobile/roaming-notifications.yaml",
        "connection": {"path": "roaming.csv"},
    }
    search(request, demo(demo_dir, extra=[roaming]))
    assert started == [1]


_SCANNED_BEFORE_PYARROW = """
import sys
from pathlib import Path

from connectors.sql.connector import SqlConnector
from discover.case import write_case
from discover.engine import search
from discover.request import build_request
from discover.sources import load_sources

loaded_at_scan = []
real_scan = SqlConnector.scan


def scan(self, identifiers):
    loaded_at_scan.append("pyarrow" in sys.modules)
    return real_scan(self, identifiers)


SqlConnector.scan = scan
request = build_request([("email", sys.argv[2])], request_id="REQ-L")
result = search(request, load_sources(Path(sys.argv[1])))
summary = write_case(result, Path(sys.argv[3]))
print(loaded_at_scan[0], result.hits.num_rows, sum(s["hits"] for s in summary["sources"]))
"""


def test_the_first_round_is_scanned_before_pyarrow_has_loaded(
    demo_dir: Path, tmp_path: Path
) -> None:
    """pyarrow (about 0.1 s to load) loads while the next round's scans run, not before
    the first scan; the hits and the case are whole all the same."""
    import subprocess
    import sys

    sources = demo(demo_dir, parallel_sources=2)
    arguments = [str(sources.path), JAN.email, str(tmp_path / "case")]
    done = subprocess.run(
        [sys.executable, "-c", _SCANNED_BEFORE_PYARROW, *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded, rows, written = done.stdout.split()
    assert loaded == "False"
    assert int(rows) > 0 and int(written) == int(rows)
