"""Each source's wall-clock limit: a source that hangs is abandoned, the others finish.

The limit is the last resort behind the connectors' own timeouts: a MariaDB source at
a port that accepts and never answers, with its own timeouts set far beyond the
source's time limit, is failed as timed out while a SQLite source still finds the
subject; the search exits 1 and the case names the source and its limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from support.sqlite_lock import locked

from connectors import heap
from connectors.tabular.connector import TabularConnector
from discover.cli import cli
from discover.config import validate
from discover.errors import ConfigError
from discover.sources import Settings, load_sources
from discover.time_limit import (
    TimeLimitExceeded,
    abandoned,
    limit_of,
    patience,
    run_within,
    time_left,
)


class _Owner:
    """Stands in for a connector: anything weak-referenceable."""


def test_work_within_its_limit_returns_its_result_or_its_error() -> None:
    owner = _Owner()
    assert run_within(owner, 30, lambda: 42) == 42
    with pytest.raises(KeyError, match="missing"):
        run_within(owner, 30, lambda: {}["missing"])
    assert not abandoned(owner)


def test_work_past_its_limit_is_abandoned_with_its_owner() -> None:
    owner = _Owner()
    release = threading.Event()
    try:
        with pytest.raises(TimeLimitExceeded, match=r"no result within 0.1 s"):
            run_within(owner, 0.1, release.wait)
        assert abandoned(owner)
        with pytest.raises(TimeLimitExceeded):  # never used again, not even briefly
            run_within(owner, 30, lambda: 42)
    finally:
        release.set()


def test_the_limit_comes_from_the_source_then_the_settings(tmp_path: Path) -> None:
    assert Settings().time_limit == 300
    sources = _sources_file(
        tmp_path, [_sqlite_source(tmp_path), _sqlite_source(tmp_path, "b", time_limit=7)]
    )
    loaded = load_sources(sources)
    first, second = loaded.sources
    assert loaded.settings.time_limit == 2

    class Wrapped:  # a connector seen through a wrapper (the batch's progress window)
        def __init__(self, inner: Any) -> None:
            self.inner = inner

    class Direct:
        def __init__(self, source: Any) -> None:
            self.source = source

    assert limit_of(Direct(first), loaded.settings.time_limit) == 2
    assert limit_of(Wrapped(Direct(second)), loaded.settings.time_limit) == 7


@pytest.mark.parametrize("value", [0, -1, "soon"])
def test_a_time_limit_must_be_a_positive_number(value: Any) -> None:
    document = {"version": 1, "settings": {"time_limit": value}, "sources": []}
    with pytest.raises(ConfigError, match="time_limit"):
        validate(document, "sources.schema.json", file="sources.yaml")


def _sqlite_source(folder: Path, name: str = "subscribers", **extra: Any) -> dict[str, Any]:
    database = folder / "subscribers.sqlite"
    if not database.exists():
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT)")
            connection.execute("INSERT INTO subscribers VALUES (1, 'jan@example.nl')")
        mapping = {
            "version": 1,
            "kind": "sql",
            "tables": {
                "subscribers": {
                    "key": "id",
                    "category": "general.contact",
                    "columns": {"id": {}, "email": {"identifier": "email"}},
                }
            },
        }
        (folder / "subscribers.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return {
        "name": name,
        "kind": "sql",
        "mapping": "subscribers.yaml",
        "connection": {"url": "sqlite:///subscribers.sqlite"},
        **extra,
    }


def _sources_file(folder: Path, sources: list[dict[str, Any]]) -> Path:
    path = folder / "sources.yaml"
    document = {"version": 1, "settings": {"time_limit": 2}, "sources": sources}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_a_silent_source_times_out_and_the_others_finish(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel accepts; nobody ever answers
    port = server.getsockname()[1]
    try:
        silent = _sqlite_source(tmp_path, "silent", time_limit=1)
        silent["connection"] = {
            "url": f"mysql+pymysql://root@127.0.0.1:{port}/crm",
            "connect_timeout": 600,
            "timeout": 600,
        }
        sources = _sources_file(tmp_path, [silent, _sqlite_source(tmp_path)])
        case = tmp_path / "case"
        arguments = ["search", "--sources", str(sources), "--email", "jan@example.nl"]
        result = CliRunner().invoke(cli, [*arguments, "--case", str(case), "--json"])
    finally:
        server.close()
    assert result.exit_code == 1, result.output
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    statuses = {source["name"]: source for source in summary["sources"]}
    assert statuses["silent"]["status"] == "failed"
    assert "timed out: not done within its time limit of 1 s" in statuses["silent"]["error"]
    assert statuses["subscribers"]["status"] == "ok"
    assert statuses["subscribers"]["records"] == 1
    assert summary["complete"] is False


# -- waiting for someone else's index build ------------------------------------------------


def test_time_left_and_patience_follow_the_limit_of_the_work_in_this_thread() -> None:
    assert time_left() is None and patience(60) == 60  # no limit: the longest wait
    left, waits = run_within(_Owner(), 8, lambda: (time_left(), patience(60)))
    assert left is not None and 7 < left <= 8
    assert 3.5 < waits <= 4  # half the time left
    assert run_within(_Owner(), 300, lambda: patience(60)) == 60
    assert time_left() is None  # the waiting thread has no limit of its own


JAN = ("--email", "jan@example.nl")
_FIXTURES = Path(__file__).resolve().parents[1] / "connectors"

_CONTACTS = {
    "version": 1,
    "kind": "tabular",
    "category": "general.contact",
    "columns": {"name": None, "email": {"identifier": "email"}},
    "headers": {"name": "Naam", "email": "E-mail"},
}


def _tabular_source(folder: Path, name: str, time_limit: float) -> dict[str, Any]:
    """A tabular source of its own CSV file (holding jan@example.nl) and index."""
    (folder / "contacts.yaml").write_text(yaml.safe_dump(_CONTACTS), encoding="utf-8")
    (folder / f"{name}.csv").write_text("Naam,E-mail\nJan,jan@example.nl\n", encoding="utf-8")
    return {
        "name": name,
        "kind": "tabular",
        "mapping": "contacts.yaml",
        "time_limit": time_limit,
        "connection": {"path": f"{name}.csv", "index_cache": "index"},
    }


def _search(
    folder: Path, sources: list[dict[str, Any]], subject: tuple[str, str] = JAN
) -> tuple[int, dict[str, Any]]:
    """A search for ``subject`` (jan@example.nl), the sources one after another; the
    exit code and each source's status by name."""
    path = folder / "sources.yaml"
    document = {"version": 1, "settings": {"parallel_sources": 1}, "sources": sources}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    case = folder / f"case-{len(list(folder.glob('case-*')))}"
    arguments = ["search", "--sources", str(path), *subject]
    result = CliRunner().invoke(cli, [*arguments, "--case", str(case), "--json"])
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    return result.exit_code, {source["name"]: source for source in summary["sources"]}


def test_a_source_is_not_timed_out_behind_another_sources_hung_index_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One source's index build hangs in a read that never returns (a FIFO nobody
    writes, as a file system that stopped answering) and keeps the builds' turn. The
    next source, whose time limit is under the minute a build waits for another,
    builds beside it after half its time and finds the subject; the source that hung
    is the one failed as timed out."""
    stalled = tmp_path / "stalled"
    os.mkfifo(stalled)
    index_file = TabularConnector._index_file

    def hanging(self: TabularConnector, path: Path, stamp: Any) -> Any:
        if path.name == "hung.csv":
            with stalled.open("rb") as never:  # blocks until the test ends
                never.read()
        return index_file(self, path, stamp)

    monkeypatch.setattr(TabularConnector, "_index_file", hanging)
    sources = [_tabular_source(tmp_path, "hung", 1), _tabular_source(tmp_path, "waits", 4)]
    started = time.monotonic()
    try:
        code, statuses = _search(tmp_path, sources)
        took = time.monotonic() - started
    finally:
        _release(stalled)
    assert statuses["hung"]["status"] == "failed"
    assert "timed out: not done within its time limit of 1 s" in statuses["hung"]["error"]
    assert statuses["waits"]["status"] == "ok", statuses["waits"]
    assert statuses["waits"]["records"] == 1
    assert code == 1 and took < 10


def _release(fifo: Path) -> None:
    """Let the read blocked on ``fifo`` end (end of file), and wait for the build that
    made it to give up the builds' turn, so that the next test does not wait for it."""
    with contextlib.suppress(OSError):  # nobody is reading it (the build never began)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert heap._builds.acquire(timeout=30)
    heap._builds.release()


def test_a_source_is_not_timed_out_behind_another_process_writing_its_index(
    tmp_path: Path,
) -> None:
    """Another process (a search, ``discover index build``) holds the lock of a
    source's index file and does not let go. The source waits for it at most half its
    time left, then reads every file, says which index another process kept locked,
    and leaves that index in place."""
    source = _tabular_source(tmp_path, "contacts", 4)
    code, statuses = _search(tmp_path, [source])
    assert code == 0 and statuses["contacts"]["records"] == 1  # the index is built
    (index,) = (tmp_path / "index").glob("tabular-*.sqlite")
    with locked(index):
        started = time.monotonic()
        code, statuses = _search(tmp_path, [source])
        took = time.monotonic() - started
    status = statuses["contacts"]
    assert status["status"] == "ok", status
    assert status["records"] == 1 and took < 4
    (warning,) = [text for text in status["warnings"] if str(index) in text]
    assert "another search or index build" in warning and "every file was read" in warning
    assert index.exists()
    code, statuses = _search(tmp_path, [source])  # the lock let go: the index is used
    assert statuses["contacts"]["status"] == "ok" and statuses["contacts"]["warnings"] == []


def _file_source(folder: Path, kind: str) -> tuple[dict[str, Any], tuple[str, str]]:
    """A provisioning directory or an LDIF export of its own, with a time limit of 4 s
    and its own index; and a subject it holds."""
    if kind == "voip":
        shutil.copytree(_FIXTURES / "fixtures" / "voip" / "provisioning", folder / "prov")
        mapping, subject = "shipped:voip/provisioning.yaml", ("--extension", "acme/201")
        connection: dict[str, Any] = {"directory": "prov"}
    else:
        shutil.copy(_FIXTURES / "ldap_data" / "people.ldif", folder / "people.ldif")
        mapping, subject = "shipped:directory/inetorgperson.yaml", ("--email", ZOE)
        connection = {"path": "people.ldif", "base_dn": "dc=example,dc=org"}
    source = {
        "name": kind,
        "kind": kind,
        "mapping": mapping,
        "time_limit": 4,
        "connection": {**connection, "index_cache": "index"},
    }
    return source, subject


ZOE = "zoe.celik@example.org"


@pytest.mark.parametrize("kind", ["voip", "ldif"])
def test_a_file_source_reads_around_an_index_another_process_keeps_locked(
    tmp_path: Path, kind: str
) -> None:
    """As for a tabular source: the provisioning directory is passed over whole, the
    LDIF export read whole, after half the source's time; the search is ok with the
    same records and a warning naming the index, which is left in place and used by
    the next search."""
    source, subject = _file_source(tmp_path, kind)
    unlocked, statuses = _search(tmp_path, [source], subject)
    first = statuses[kind]
    assert first["status"] == "ok" and first["records"] > 0, first
    (index,) = (tmp_path / "index").glob(f"{kind}-*.sqlite")  # built by that search
    inode = index.stat().st_ino
    with locked(index):
        started = time.monotonic()
        code, statuses = _search(tmp_path, [source], subject)
        took = time.monotonic() - started
    status = statuses[kind]
    assert status["status"] == "ok" and code == unlocked, status
    assert status["records"] == first["records"] and took < 4
    (warning,) = [text for text in status["warnings"] if str(index) in text]
    assert "another search or index build" in warning
    assert [text for text in status["warnings"] if text != warning] == first["warnings"]
    assert index.stat().st_ino == inode  # left as it is
    code, statuses = _search(tmp_path, [source], subject)  # the lock let go
    assert statuses[kind]["status"] == "ok" and code == unlocked
    assert statuses[kind]["warnings"] == first["warnings"]
    assert statuses[kind]["rows_read"] < status["rows_read"]  # what the index points to
    assert index.stat().st_ino == inode
