"""The provisioning listing made ahead by a child process, on real directories.

The child's listing must be the walk's own (files, stamps and every skipped entry with
its reason); anything else (other globs, a child that failed or was killed) gives
nothing, and the scan lists the directory itself. No child is left behind.

The test runner may hold threads of earlier tests, and a fork is only made while the
process runs no other thread; the tests that need a child say the process is alone
(``alone``): the child's work (listing, ``marshal``, ``os.write``) takes no lock such a
thread could hold. One test runs a real search in a fresh interpreter, unpatched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.processes import alive, reaped
from voip_helpers import PROVISIONING, sources_file

import connectors.voip.ahead as ahead_module
from connectors import load_mapping
from connectors.voip.ahead import AheadListing
from connectors.voip.connector import VoipConnector
from connectors.voip.files import Listing, scan_directory
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import load_sources

INCLUDE = ("**/*.cfg", "**/*.xml")
EXCLUDE = ("**/logs/**",)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ahead_module.threading, "active_count", lambda: 1)


def _in_a_fresh_interpreter(script: str, *arguments: str) -> str:
    """What ``script`` prints, run by a new interpreter (none of the runner's threads)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        check=True,
        timeout=120,
    )
    return done.stdout


def _shape(listing: Listing) -> tuple[Any, ...]:
    skipped = [(entry.relpath, entry.reason) for entry in listing.skipped]
    return listing.files, skipped, listing.stamp_values


def _awkward_directory(tmp_path: Path) -> Path:
    """The fixtures plus every kind of entry the walk names instead of reading."""
    directory = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, directory)
    acme = directory / "acme"
    os.mkfifo(acme / "001565abcd77.cfg")
    (acme / "gone.cfg").symlink_to(acme / "missing.cfg")
    (acme / "alias.cfg").symlink_to(acme / "001565abcd01.cfg")
    (directory / "linked").symlink_to(acme)
    (acme / "logs").mkdir()
    (acme / "logs" / "001565abcd01.cfg").write_text("account.1.user_name = 999\n")
    os.close(os.open(os.fsencode(acme) + b"/bad-\xff.cfg", os.O_CREAT | os.O_WRONLY))
    (acme / "notes.txt").write_text("not a provisioning file\n")
    return directory


def test_the_child_lists_what_the_walk_lists(tmp_path: Path, alone: None) -> None:
    directory = _awkward_directory(tmp_path)
    expected = scan_directory(directory, INCLUDE, EXCLUDE)
    reasons = {entry.relpath: entry.reason for entry in expected.skipped}
    assert "acme/001565abcd77.cfg" in reasons and "linked/" in reasons  # the fixture holds them
    ahead = AheadListing.start(directory, INCLUDE, EXCLUDE)
    assert ahead is not None
    listing = ahead.take(directory, INCLUDE, EXCLUDE)
    assert listing is not None
    assert _shape(listing) == _shape(expected)
    assert listing.known_digest is not None  # computed by the child
    assert listing.digest() == expected.digest()
    assert reaped(ahead.pid)


def test_a_listing_of_other_globs_is_not_taken(tmp_path: Path, alone: None) -> None:
    ahead = AheadListing.start(PROVISIONING, INCLUDE, EXCLUDE)
    assert ahead is not None
    assert ahead.take(PROVISIONING, ("**/*.cfg",), EXCLUDE) is None
    assert ahead.take(PROVISIONING, INCLUDE, EXCLUDE) is None  # taken once only
    assert reaped(ahead.pid)


def test_a_failing_or_killed_child_gives_nothing(
    monkeypatch: pytest.MonkeyPatch, alone: None
) -> None:
    def failing(*_args: Any) -> bytes:
        raise OSError("the directory went away")

    monkeypatch.setattr(ahead_module, "_payload", failing)  # the child inherits it
    failed = AheadListing.start(PROVISIONING, INCLUDE, EXCLUDE)
    assert failed is not None
    assert failed.take(PROVISIONING, INCLUDE, EXCLUDE) is None
    assert reaped(failed.pid)

    monkeypatch.setattr(ahead_module, "_payload", lambda *_args: time.sleep(60) or b"")
    killed = AheadListing.start(PROVISIONING, INCLUDE, EXCLUDE)
    assert killed is not None
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.take(PROVISIONING, INCLUDE, EXCLUDE) is None
    assert reaped(killed.pid)


def test_discarding_ends_a_running_child(monkeypatch: pytest.MonkeyPatch, alone: None) -> None:
    monkeypatch.setattr(ahead_module, "_payload", lambda *_args: time.sleep(60) or b"")
    ahead = AheadListing.start(PROVISIONING, INCLUDE, EXCLUDE)
    assert ahead is not None
    started = time.monotonic()
    ahead.discard()
    assert time.monotonic() - started < 30  # killed, not waited for
    assert reaped(ahead.pid)


def test_no_child_is_forked_beside_another_thread() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert AheadListing.start(PROVISIONING, INCLUDE, EXCLUDE) is None
    finally:
        release.set()
        other.join()


def _connector(tmp_path: Path, directory: Path) -> VoipConnector:
    folder = tmp_path / "sources"
    folder.mkdir()
    sources = load_sources(
        sources_file(folder, directory, connection={"index_cache": str(tmp_path / "cache")})
    )
    register = default_register()
    mapping = load_mapping(sources.sources[0].mapping_path, register).model
    return VoipConnector(sources.sources[0], mapping, register, sources.settings)


def test_the_first_scan_takes_the_listing_made_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alone: None
) -> None:
    """The search's scan does not list again; the next search lists for itself."""
    import connectors.voip.connector as voip_connector

    directory = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, directory)
    connector = _connector(tmp_path, directory)
    connector.build_index()
    listed: list[Path] = []
    real = voip_connector.scan_directory
    monkeypatch.setattr(
        voip_connector, "scan_directory", lambda root, *a: listed.append(root) or real(root, *a)
    )
    connector.start_ahead()
    connector.begin_search()
    assert connector.scan([Identifier("extension", "acme/201")]).records
    assert listed == []

    jan = directory / "acme" / "001565abcd01.cfg"
    jan.write_text(jan.read_text().replace("user_name = 201", "user_name = 288"))
    connector.begin_search()  # the next search, nothing started ahead
    assert connector.scan([Identifier("extension", "acme/288")]).records
    assert listed == [directory]
    connector.close()


def test_closing_drops_a_listing_not_taken(tmp_path: Path, alone: None) -> None:
    connector = _connector(tmp_path, PROVISIONING)
    connector.start_ahead()
    started = connector._ahead
    assert started is not None
    connector.close()
    assert connector._ahead is None and reaped(started.pid)


_SEARCH = """
import json, sys
from pathlib import Path
import connectors.voip.connector as voip_connector
from discover.engine import search
from discover.request import build_request
from discover.sources import load_sources
listed = []
real = voip_connector.scan_directory
voip_connector.scan_directory = lambda root, *a: listed.append(str(root)) or real(root, *a)
result = search(build_request([("extension", "acme/201")]), load_sources(Path(sys.argv[1])))
rows = sorted(set(zip(result.hits.column("location").to_pylist(),
                      result.hits.column("record_key").to_pylist())))
print(json.dumps({"listed": listed, "records": rows, "scans": result.sources[0].scans}))
"""


def test_a_search_lists_ahead_and_finds_the_same(tmp_path: Path) -> None:
    """A real search, unpatched: the listing comes from the child, the result is the same
    as that of a search without the index, whose later rounds list for themselves."""
    directory = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, directory)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    indexed = sources_file(
        tmp_path / "a", directory, connection={"index_cache": str(tmp_path / "c")}
    )
    plain = sources_file(tmp_path / "b", directory, connection={"index": False})
    outputs = []
    for sources in (indexed, indexed, plain):
        outputs.append(json.loads(_in_a_fresh_interpreter(_SEARCH, str(sources))))
    cold, warm, full = outputs
    assert cold["listed"] == [] and warm["listed"] == []
    assert cold["scans"] >= 2  # the later round used the first round's listing
    # without the index every round lists; the first round's listing came from the child
    assert len(full["listed"]) == full["scans"] - 1
    assert warm["records"] == cold["records"] == full["records"]
    assert ("acme/001565abcd01.cfg", "account 1") in {tuple(r) for r in warm["records"]}


_HUNG_CHILD_AT_EXIT = """
import sys, time
from pathlib import Path
import connectors.voip.ahead as ahead
ahead._payload = lambda *args: time.sleep(120) or b""
listing = ahead.AheadListing.start(Path(sys.argv[1]), ("**",), ())
print(listing.pid, flush=True)
"""


def test_a_child_left_running_is_killed_when_the_process_ends(tmp_path: Path) -> None:
    """A listing whose scan was abandoned (a hung network file system) does not outlive
    the search process."""
    pid = int(_in_a_fresh_interpreter(_HUNG_CHILD_AT_EXIT, str(PROVISIONING)))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    assert not alive(pid)


_SLOW_CHILD_AND_OUTPUT = """
import sys, time
from pathlib import Path
import connectors.voip.ahead as ahead
ahead._payload = lambda *args: time.sleep(30) or b""
listing = ahead.AheadListing.start(Path(sys.argv[1]), ("**",), ())
ahead._unreaped.discard(listing.pid)  # left running at the end
print(listing.pid, flush=True)
"""


def test_the_child_does_not_hold_the_output_open(tmp_path: Path) -> None:
    """A reader of the search's output sees its end when the search ends, not when a
    listing child does."""
    started = time.monotonic()
    os.kill(int(_in_a_fresh_interpreter(_SLOW_CHILD_AND_OUTPUT, str(PROVISIONING))), signal.SIGKILL)
    assert time.monotonic() - started < 20
