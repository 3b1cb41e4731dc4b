"""The persistent index of an LDIF export, against a pass over the file, on real files.

Every value the export indexes is searched with a fresh connector (which answers from
the stored index) and without the index (``connection.index: false``); the results
must be equal, before and after the export is rewritten. A damaged index is built
again with a warning; one another process keeps locked is left as it is while the
export is read whole; the index file is private and holds no value that is not an
identifier.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from ldap_support import INETORGPERSON, PEOPLE_LDIF, SUFFIX, source
from support.sqlite_lock import locked

import connectors.directory.ldif as ldif_module
from connectors import caches, load_mapping
from connectors.base import ScanResult
from connectors.directory import ldif_store
from connectors.directory.ldif import LdifConnector, _Index
from connectors.directory.ldif_store import StoredIndex
from discover.errors import SourceError
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import Settings
from discover.time_limit import run_within


def _connector(export: Path, **connection: Any) -> LdifConnector:
    register = default_register()
    loaded = load_mapping(INETORGPERSON, register, expected_kind="ldif")
    settings = {"path": str(export), "base_dn": SUFFIX, **connection}
    return LdifConnector(
        source("export", "ldif", INETORGPERSON, settings, base_dir=export.parent),
        loaded.model,
        register,
        Settings(),
    )


def _shape(result: ScanResult) -> tuple[Any, ...]:
    records = sorted(
        (
            r.location,
            r.key,
            [(f.spec.name, str(f.value)) for f in r.fields],
            sorted((m.identifier.type, m.identifier.value, m.field, m.exact) for m in r.matches),
            sorted((link.location, link.key, link.relation) for link in r.links),
        )
        for r in result.records
    )
    return records, sorted(result.warnings), result.truncated


def _identifiers(export: Path) -> list[Identifier]:
    built = _connector(export, index=False).index()
    assert isinstance(built, _Index)
    found = [Identifier(kind, value) for kind, value in built.values]
    return [*sorted(found, key=lambda i: (i.type, i.value)), Identifier("email", "no@example.org")]


def _assert_same(export: Path, cache: Path) -> None:
    identifiers = _identifiers(export)
    assert len(identifiers) > 10
    for identifier in identifiers:
        warm = _connector(export, index_cache=str(cache)).scan([identifier])
        full = _connector(export, index=False).scan([identifier])
        assert _shape(warm) == _shape(full), identifier
    warm = _connector(export, index_cache=str(cache))
    assert _shape(warm.scan(identifiers)) == _shape(
        _connector(export, index=False).scan(identifiers)
    )


def test_a_stored_index_answers_like_a_pass_and_follows_a_new_export(tmp_path: Path) -> None:
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    cold = _connector(export, index_cache=str(cache))
    assert cold.build_index() is True
    assert cold.build_index() is False  # the export did not change: not read again
    warm = _connector(export, index_cache=str(cache))
    result = warm.scan([Identifier("email", "zoe.celik@example.org")])
    assert isinstance(warm._index, StoredIndex)  # answered from disk
    assert result.rows_read == 2  # only Zoë and her group, read from their offsets
    _assert_same(export, cache)

    # a new export: one entry more, one address changed
    text = export.read_text(encoding="utf-8").replace(
        "zoe.celik@example.org", "zoe.celik@example.net"
    )
    text += (
        "\ndn: uid=newcomer,ou=people,dc=example,dc=org\n"
        "objectClass: inetOrgPerson\nuid: newcomer\ncn: New Comer\nsn: Comer\n"
        "mail: newcomer@example.org\n"
    )
    export.write_text(text, encoding="utf-8")
    fresh = _connector(export, index_cache=str(cache))
    first = fresh.scan([Identifier("email", "newcomer@example.org")])
    assert first.records
    entries = text.count("\ndn: ") + text.startswith("dn: ")
    assert first.rows_read >= entries - 1  # the pass was made again: every entry read
    assert fresh.scan([Identifier("email", "zoe.celik@example.org")]).records == []
    assert isinstance(fresh._index, StoredIndex)  # written as it was read, then opened
    _assert_same(export, cache)


def test_a_damaged_index_is_built_again_with_a_warning(tmp_path: Path) -> None:
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    connector = _connector(export, index_cache=str(cache))
    connector.build_index()
    path = connector.index_file()
    assert path is not None and path.is_file()
    path.write_bytes(b"SQLite format 3\x00" + b"garbage" * 200)
    damaged = _connector(export, index_cache=str(cache))
    result = damaged.scan([Identifier("email", "zoe.celik@example.org")])
    assert any("could not be read" in w and "built again" in w for w in result.warnings)
    assert result.records
    _assert_same(export, cache)


ZOE = [Identifier("email", "zoe.celik@example.org")]


def _locked_warning(result: ScanResult, path: Path) -> str:
    (warning,) = [text for text in result.warnings if str(path) in text]
    assert "another search or index build" in warning and "the whole export was read" in warning
    return warning


def test_an_index_another_process_keeps_locked_is_left_as_it_is(tmp_path: Path) -> None:
    """Another process holds the index's lock and does not let go. That is not damage:
    within a time limit of 2 s the search waits half of it, then reads the export
    whole, as a search without the index, and names the locked index; a build fails as
    a transient problem; the index is neither removed nor replaced, and the next
    search answers from it."""
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    assert _connector(export, index_cache=str(cache)).build_index() is True
    path = _connector(export, index_cache=str(cache)).index_file()
    assert path is not None
    before = path.stat().st_ino
    full = _connector(export, index=False).scan(ZOE)
    searching = _connector(export, index_cache=str(cache))
    building = _connector(export, index_cache=str(cache))
    with locked(path):
        started = time.monotonic()
        result = run_within(searching, 2, partial(searching.scan, ZOE))
        took = time.monotonic() - started
        with pytest.raises(SourceError, match="holds its lock and did not let go") as failed:
            run_within(building, 2, building.build_index)
    assert failed.value.transient and str(path) in str(failed.value)
    assert 0.8 < took < 2  # half the time left
    warning = _locked_warning(result, path)
    assert result.records and _shape(result)[0] == _shape(full)[0]
    assert sorted(text for text in result.warnings if text != warning) == _shape(full)[1]
    assert result.truncated == full.truncated and result.rows_read == full.rows_read
    assert path.stat().st_ino == before  # not removed, not replaced
    assert list(cache.glob("*.tmp")) == []

    again = searching.scan(ZOE)  # the lock let go: the index answers
    assert isinstance(searching._index, StoredIndex)
    assert _shape(again) == _shape(full) and again.rows_read == 2  # Zoë and her group
    assert path.stat().st_ino == before


def test_an_index_locked_while_a_batch_keeps_it_open_is_left_as_it_is(tmp_path: Path) -> None:
    """A batch keeps its connectors, and so the index it opened, across searches:
    another process locking it meanwhile makes the next search read the export whole,
    with the warning; the search after it opens the index again."""
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    kept = _connector(export, index_cache=str(cache))
    assert kept.build_index() is True
    assert kept.scan(ZOE).rows_read == 2
    assert isinstance(kept._index, StoredIndex)
    path = kept.index_file()
    assert path is not None
    full = _connector(export, index=False).scan(ZOE)
    with locked(path):
        result = run_within(kept, 2, partial(kept.scan, ZOE))
    _locked_warning(result, path)
    assert _shape(result)[0] == _shape(full)[0] and result.rows_read == full.rows_read
    again = kept.scan(ZOE)
    assert isinstance(kept._index, StoredIndex)
    assert _shape(again) == _shape(full) and again.rows_read == 2


def test_status_says_an_index_another_process_keeps_locked_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(caches, "STATUS_WAIT", 0.2)
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    connector = _connector(export, index_cache=str(tmp_path / "cache"))
    connector.build_index()
    path = connector.index_file()
    assert path is not None
    with locked(path):
        assert connector.index_status() == {"path": str(path), "exists": True, "busy": True}
    assert connector.index_status()["values"] > 10  # type: ignore[index]


def test_index_file_is_private_and_holds_only_identifiers(tmp_path: Path) -> None:
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    connector = _connector(export, index_cache=str(cache))
    connector.build_index()
    path = connector.index_file()
    assert path is not None
    assert path.parent == cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert b"zoe.celik@example.org" in raw
    for value in (b"reader-secret", b"notarealhash", b"Planning team"):
        assert value not in raw


def test_a_stored_index_serves_scans_from_another_thread(tmp_path: Path) -> None:
    """The engine runs a scan in a worker thread (the source's time limit)."""
    from concurrent.futures import ThreadPoolExecutor

    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    _connector(export, index_cache=str(cache)).build_index()
    warm = _connector(export, index_cache=str(cache))
    assert warm.scan([Identifier("email", "zoe.celik@example.org")]).records
    assert isinstance(warm._index, StoredIndex)
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(warm.scan, [Identifier("email", "j.devries@example.org")]).result()
        assert other.records
        pool.submit(warm.close).result()


def test_the_index_is_written_in_batches_as_the_export_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory holds a batch, not the index: small batches give the same answers."""
    monkeypatch.setattr(ldif_store.IndexWriter, "BATCH", 2)
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    assert _connector(export, index_cache=str(cache)).build_index() is True
    _assert_same(export, cache)
    assert list(cache.glob("*.tmp")) == []


def test_an_export_rewritten_while_read_answers_but_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    cache = tmp_path / "cache"
    real = ldif_module.read_ldif

    def rewritten_midway(*args: Any) -> Any:
        for number, entry in enumerate(real(*args)):
            if number == 3:  # the export is replaced while it is being read
                os.utime(export, ns=(1, 1))
            yield entry

    monkeypatch.setattr(ldif_module, "read_ldif", rewritten_midway)
    connector = _connector(export, index_cache=str(cache))
    assert connector.scan([Identifier("email", "zoe.celik@example.org")]).records
    path = connector.index_file()
    assert path is not None and not path.exists()  # nothing kept for the next search
    connector.close()
    assert list(cache.glob("*.tmp")) == []


def test_an_unwritable_cache_answers_from_memory(tmp_path: Path) -> None:
    export = tmp_path / "people.ldif"
    shutil.copy(PEOPLE_LDIF, export)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    connector = _connector(export, index_cache=str(blocker / "cache"))
    result = connector.scan([Identifier("email", "zoe.celik@example.org")])
    full = _connector(export, index=False).scan([Identifier("email", "zoe.celik@example.org")])
    assert result.records and _shape(result) == _shape(full)
    assert isinstance(connector._index, _Index)
