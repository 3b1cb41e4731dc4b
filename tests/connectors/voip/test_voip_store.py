"""The persistent index of a provisioning directory, against a full pass, on real files.

Every identifier the directory holds is searched one by one with the index and
without it (``connection.index: false``, a full pass), after each change a
provisioning directory sees: a file edited, added, removed, renamed; the results
must be equal. The index file is then damaged (rebuilt, with a warning) or locked by
another process (left as it is: the search reads every file), its modes checked, and
its bytes searched for every password of the fixtures.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import stat
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support.sqlite_lock import locked
from support.unprivileged import run_unprivileged, shared_directory
from voip_helpers import FIXTURE_SECRETS, PROVISIONING, sources_file

from connectors import load_mapping
from connectors.base import ScanResult
from connectors.voip.connector import VoipConnector
from connectors.voip.index import IndexBuilder
from connectors.voip.store import FileIndex
from discover.errors import SourceError
from discover.identifiers import Identifier, try_normalise
from discover.register import default_register
from discover.sources import load_sources
from discover.time_limit import run_within


def _built(indexed: VoipConnector) -> FileIndex:
    """The connector's index, brought up to date."""
    indexed.build_index()
    stored = indexed.file_index()
    assert stored is not None
    return stored


def _connector(tmp_path: Path, directory: Path, name: str, **connection: Any) -> VoipConnector:
    folder = tmp_path / name
    folder.mkdir()
    sources = load_sources(sources_file(folder, directory, connection=connection))
    register = default_register()
    mapping = load_mapping(sources.sources[0].mapping_path, register).model
    return VoipConnector(sources.sources[0], mapping, register, sources.settings)


def _identifiers(connector: VoipConnector) -> list[Identifier]:
    """Every identifier the directory holds now (from a full pass), and one it does not."""
    index = IndexBuilder(connector.directory, connector.mapping, connector.fallback_scope).build()
    found = {Identifier(kind, value) for kind, value in index.places}
    for entries in index.tails.values():
        for _number, _field, raw in entries:
            phone = try_normalise("phone", raw)
            if phone:
                found.add(Identifier("phone", phone))
    found.add(Identifier("email", "nobody@example.org"))
    return sorted(found, key=lambda i: (i.type, i.value))


def _shape(result: ScanResult) -> tuple[Any, ...]:
    records = [
        (
            r.location,
            r.key,
            [(f.spec.name, str(f.value)) for f in r.fields],
            sorted((m.identifier.type, m.identifier.value, m.field, m.exact) for m in r.matches),
            sorted((link.location, link.key, link.relation) for link in r.links),
            r.third_party,
        )
        for r in result.records
    ]
    return records, sorted(result.warnings), result.truncated


def _assert_same(indexed: VoipConnector, plain: VoipConnector) -> int:
    identifiers = _identifiers(plain)
    assert len(identifiers) > 10
    matched = 0
    for identifier in identifiers:
        with_index = indexed.scan([identifier])
        full = plain.scan([identifier])
        assert _shape(with_index) == _shape(full), identifier
        matched += bool(full.records)
    assert _shape(indexed.scan(identifiers)) == _shape(plain.scan(identifiers))
    return matched


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Path, VoipConnector, VoipConnector]:
    directory = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, directory)
    indexed = _connector(tmp_path, directory, "indexed", index_cache=str(tmp_path / "cache"))
    plain = _connector(tmp_path, directory, "plain", index=False)
    return directory, indexed, plain


def test_results_equal_a_full_pass_after_every_change(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    directory, indexed, plain = estate
    first = indexed.build_index()
    assert first.parsed == len(list(directory.rglob("*.*")))
    assert _assert_same(indexed, plain) > 10
    assert indexed.build_index().parsed == 0  # warm: no file parsed to update the index

    # edit: Jan's extension 201 becomes 299
    jan = directory / "acme" / "001565abcd01.cfg"
    jan.write_text(jan.read_text().replace("user_name = 201", "user_name = 299"))
    assert indexed.build_index().parsed == 1
    old = indexed.scan([Identifier("extension", "acme/201")]).records
    assert "acme/001565abcd01.cfg" not in {r.location for r in old}  # phonebooks still list it
    new = indexed.scan([Identifier("extension", "acme/299")]).records
    assert {r.location for r in new if r.matches} == {"acme/001565abcd01.cfg"}
    _assert_same(indexed, plain)

    # add: a new handset with its own extension
    added = directory / "acme" / "001565abcd09.cfg"
    added.write_text(jan.read_text().replace("user_name = 299", "user_name = 277"))
    assert indexed.build_index().parsed == 1
    assert indexed.scan([Identifier("extension", "acme/277")]).records
    _assert_same(indexed, plain)

    # delete: the handset's phonebook (its entries are no longer kept by anyone)
    (directory / "acme" / "001565abcd01-phonebook.xml").unlink()
    done = indexed.build_index()
    assert (done.parsed, done.dropped) == (0, 1)
    _assert_same(indexed, plain)

    # rename: a client's file moves to another client's directory
    os.rename(directory / "acme" / "fatima.xml", directory / "bakkerij" / "fatima.xml")
    done = indexed.build_index()
    assert (done.parsed, done.dropped) == (1, 1)
    _assert_same(indexed, plain)


def test_a_file_replaced_with_the_same_size_and_time_is_read_again(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """The inode tells a replaced file from an unchanged one."""
    directory, indexed, plain = estate
    indexed.build_index()
    jan = directory / "acme" / "001565abcd01.cfg"
    before = jan.stat()
    replacement = directory / "acme" / "replacement.tmp"
    replacement.write_text(jan.read_text().replace("user_name = 201", "user_name = 209"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, jan)
    assert indexed.build_index().parsed == 1
    assert indexed.scan([Identifier("extension", "acme/209")]).records
    _assert_same(indexed, plain)


def test_a_damaged_index_is_built_again_with_a_warning(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    _directory, indexed, plain = estate
    stored = _built(indexed)
    stored.path.write_bytes(b"this is not an index\x00" * 100)
    result = indexed.scan([Identifier("extension", "acme/201")])
    assert any("could not be read" in w and "built again" in w for w in result.warnings)
    assert result.records
    assert indexed.build_index().parsed == 0  # the rebuilt index is whole again
    _assert_same(indexed, plain)


def test_an_index_another_process_keeps_locked_is_left_as_it_is(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """Another process (a search, ``discover index build``) holds the index's lock and
    does not let go. That is not damage: within a time limit of 2 s the search waits
    half of it, then passes over the whole directory, as a search without the index,
    and names the locked index; a build fails as a transient problem; the index is
    neither removed nor rebuilt, and the next search brings it up to date and uses it."""
    directory, indexed, plain = estate
    stored = _built(indexed)
    before = stored.path.stat().st_ino
    jan = directory / "acme" / "001565abcd01.cfg"  # changed since it was indexed
    jan.write_text(jan.read_text().replace("user_name = 201", "user_name = 299"))
    wanted = [Identifier("extension", "acme/299")]
    with locked(stored.path):
        started = time.monotonic()
        result = run_within(indexed, 2, partial(indexed.scan, wanted))
        took = time.monotonic() - started
        with pytest.raises(SourceError, match="holds its lock and did not let go") as failed:
            run_within(indexed, 2, indexed.build_index)
    assert failed.value.transient and str(stored.path) in str(failed.value)
    assert 0.8 < took < 2  # half the time left, not SQLite's minute
    (warning,) = [text for text in result.warnings if str(stored.path) in text]
    assert "another search or index build" in warning and "every file was read" in warning
    full = plain.scan(wanted)
    assert {r.location for r in result.records if r.matches} == {"acme/001565abcd01.cfg"}
    assert _shape(result)[0] == _shape(full)[0] and result.truncated == full.truncated
    assert sorted(text for text in result.warnings if text != warning) == _shape(full)[1]
    assert stored.path.stat().st_ino == before  # not removed, not built again
    assert stored.status()["files"] == len(list(directory.rglob("*.*")))
    assert indexed._index is not None  # the full pass, for the search's next round

    again = indexed.scan(wanted)  # the lock let go: the index is brought up to date
    assert _shape(again) == _shape(full)
    assert indexed._index is None  # the full pass is let go of
    assert indexed.build_index().parsed == 0  # that search updated it: it used it
    assert stored.path.stat().st_ino == before


def test_index_modes_and_no_secret_in_it(
    estate: tuple[Path, VoipConnector, VoipConnector], tmp_path: Path
) -> None:
    _directory, indexed, _plain = estate
    stored = _built(indexed)
    assert stored.path.parent == tmp_path / "cache"
    assert stat.S_IMODE(stored.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    raw = stored.path.read_bytes()
    assert b"acme/201" in raw  # it does hold the identifiers
    for secret in FIXTURE_SECRETS:
        assert secret.encode() not in raw, secret


def test_default_place_is_the_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOVER_CACHE_DIR", str(tmp_path / "env-cache"))
    connector = _connector(tmp_path, PROVISIONING, "default")
    stored = connector.file_index()
    assert stored is not None
    assert stored.path.parent == tmp_path / "env-cache" / "file-index"
    assert connector.scan([Identifier("extension", "acme/201")]).records
    assert stored.path.is_file()
    monkeypatch.delenv("DISCOVER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    again = connector.file_index()
    assert again is not None
    assert again.path.parent == tmp_path / "xdg" / "discover" / "file-index"


def test_an_unusable_cache_directory_searches_every_file_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    connector = _connector(tmp_path, PROVISIONING, "blocked", index_cache=str(blocker / "cache"))
    plain = _connector(tmp_path, PROVISIONING, "plain", index=False)
    result = connector.scan([Identifier("extension", "acme/201")])
    assert result.warnings[0].startswith(f"file index {blocker / 'cache'}")
    assert "every file was read" in result.warnings[0]
    expected = _shape(plain.scan([Identifier("extension", "acme/201")]))
    assert _shape(result)[0] == expected[0] and result.records


def test_one_listing_per_search_and_a_fresh_one_for_the_next(
    estate: tuple[Path, VoipConnector, VoipConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rounds of one search list the directory once; the next search sees changes."""
    import connectors.voip.connector as voip_connector

    directory, indexed, _plain = estate
    listed: list[Path] = []
    real = voip_connector.scan_directory

    def counting(root: Path, *args: Any) -> Any:
        listed.append(root)
        return real(root, *args)

    monkeypatch.setattr(voip_connector, "scan_directory", counting)
    indexed.begin_search()
    assert indexed.scan([Identifier("extension", "acme/201")]).records  # round 0
    indexed.scan([Identifier("email", "nobody@example.org")])  # round 1
    assert len(listed) == 1

    jan = directory / "acme" / "001565abcd01.cfg"
    jan.write_text(jan.read_text().replace("user_name = 201", "user_name = 288"))
    indexed.begin_search()  # the next search
    assert indexed.scan([Identifier("extension", "acme/288")]).records
    assert len(listed) == 2
    # used as a library, without searches around it, every scan looks again
    indexed._keep_snapshot = False
    indexed._snapshot = None
    indexed.scan([Identifier("extension", "acme/288")])
    indexed.scan([Identifier("extension", "acme/288")])
    assert len(listed) == 4


def test_the_listing_carries_each_file_stamp(tmp_path: Path) -> None:
    from connectors.voip.files import scan_directory

    directory = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, directory)
    (directory / "acme" / "link.cfg").symlink_to(directory / "acme" / "001565abcd01.cfg")
    listing = scan_directory(directory, ("**",), ())
    stamps = listing.stamps()
    assert listing.files and list(stamps) == listing.files
    for relpath in listing.files:
        info = (directory / relpath).stat()  # a link is stamped by its target
        stamp = (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
        assert stamps[relpath] == stamp


def test_the_engine_lists_once_per_search(
    estate: tuple[Path, VoipConnector, VoipConnector],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Extension -> handset (round 0) -> its MAC (round 1): one listing for both rounds."""
    import connectors.voip.connector as voip_connector
    from discover.engine import search
    from discover.request import build_request

    directory, indexed, _plain = estate
    listed: list[Path] = []
    real = voip_connector.scan_directory
    monkeypatch.setattr(
        voip_connector, "scan_directory", lambda root, *a: listed.append(root) or real(root, *a)
    )
    sources = load_sources(indexed.source.base_dir / "sources.yaml")
    request = build_request([("extension", "acme/201")])
    first = search(request, sources, connectors=[indexed])
    assert first.traces and any(t.identifier.type == "mac" for t in first.traces)
    assert first.sources[0].scans >= 2 and len(listed) == 1

    jan = directory / "acme" / "001565abcd01.cfg"
    jan.write_text(jan.read_text().replace("user_name = 201", "user_name = 266"))
    second = search(build_request([("extension", "acme/266")]), sources, connectors=[indexed])
    assert len(listed) == 2
    assert "acme/001565abcd01.cfg" in second.hits.column("location").to_pylist()


def test_a_first_build_ends_with_every_look_up_index(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """A first build inserts without the look-up indexes and creates them at the end."""
    import sqlite3

    from connectors.voip.store import _LOOKUP_INDEXES

    _directory, indexed, _plain = estate
    stored = _built(indexed)
    with sqlite3.connect(stored.path) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        plan = " ".join(
            str(row)
            for row in connection.execute(
                "EXPLAIN QUERY PLAN SELECT relpath FROM keys WHERE key = 'email:x'"
            )
        )
    assert set(_LOOKUP_INDEXES) <= names
    assert "keys_key" in plan


# -- the listing digest: an unchanged directory compares no stamp, a changed one does ----


def test_an_in_place_edit_of_the_same_size_is_read_again_after_a_warm_search(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """A warm index skips the stored stamps only while the listing digest is the same."""
    directory, indexed, plain = estate
    indexed.build_index()
    assert indexed.build_index().parsed == 0  # warm: the listing digest is stored
    jan = directory / "acme" / "001565abcd01.cfg"
    before = jan.stat()
    text = jan.read_text().replace("user_name = 201", "user_name = 288")
    with open(jan, "r+", encoding="utf-8") as handle:  # same inode, same size
        handle.write(text)
    os.utime(jan, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    after = jan.stat()
    assert (after.st_size, after.st_ino) == (before.st_size, before.st_ino)
    assert indexed.build_index().parsed == 1
    found = indexed.scan([Identifier("extension", "acme/288")]).records
    assert "acme/001565abcd01.cfg" in {r.location for r in found if r.matches}
    _assert_same(indexed, plain)


def test_a_rename_is_seen_after_a_warm_search(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """A rename keeps the file's size, time and inode: the names are in the digest."""
    directory, indexed, plain = estate
    indexed.build_index()
    indexed.build_index()
    os.rename(directory / "acme" / "001565abcd01.cfg", directory / "acme" / "001565abcd08.cfg")
    done = indexed.build_index()
    assert (done.parsed, done.dropped) == (1, 1)
    found = indexed.scan([Identifier("extension", "acme/201")]).records
    assert "acme/001565abcd08.cfg" in {r.location for r in found if r.matches}
    _assert_same(indexed, plain)


def test_the_listing_digest_tells_names_and_stamps_apart() -> None:
    from connectors.voip.files import Listing

    files = ["acme/a.cfg", "acme/b.cfg"]
    values = [10, 1, 7, 1, 20, 2, 8, 2]
    digest = Listing(list(files), [], list(values)).digest()
    assert digest == Listing(list(files), [], list(values)).digest()
    assert Listing(["acme/a.cfg", "acme/c.cfg"], [], list(values)).digest() != digest
    for position in range(4, 8):  # b's size, mtime, inode, ctime
        changed = list(values)
        changed[position] += 1
        assert Listing(list(files), [], changed).digest() != digest
    assert Listing(list(files), [], values[:4]).digest() is None


def test_an_interrupted_update_is_not_taken_for_a_complete_one(
    estate: tuple[Path, VoipConnector, VoipConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest goes before the index changes: the files an interrupted update
    stored are compared again when the directory is listed as before."""
    import connectors.voip.store as voip_store
    from connectors.voip.files import Listing, scan_directory

    directory, indexed, _plain = estate
    stored = indexed.file_index()
    assert stored is not None
    listing = scan_directory(directory, indexed.mapping.include, indexed.mapping.exclude)
    stored.update(listing)
    second = listing.files[1]
    changed = Listing(list(listing.files), [], list(listing.stamp_values))
    changed.stamp_values[1] += 1  # the mtime of the first file and of the second
    changed.stamp_values[5] += 1
    real = voip_store.FileIndex._index_file

    def failing(self: Any, relpath: str, stamp: Any) -> Any:
        if relpath == second:
            raise RuntimeError("interrupted")
        return real(self, relpath, stamp)

    monkeypatch.setattr(voip_store, "_BATCH", 1)
    monkeypatch.setattr(voip_store.FileIndex, "_index_file", failing)
    with pytest.raises(RuntimeError):
        stored.update(changed)  # the first file was stored with its new stamp
    monkeypatch.undo()
    assert stored.update(listing)[0].parsed == 1  # the first file again, as listed now


def test_a_file_made_unreadable_is_named_as_a_full_pass_names_it() -> None:
    """chmod changes neither size, time nor inode; the change time names it."""
    with shared_directory() as folder:
        directory = folder / "provisioning"
        shutil.copytree(PROVISIONING, directory)
        nobody = pwd.getpwnam("nobody")
        for path in [folder, directory, *directory.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        indexed = _connector(folder, directory, "indexed", index_cache=str(folder / "cache"))
        plain = _connector(folder, directory, "plain", index=False)
        jan = [Identifier("extension", "acme/201")]
        other = [Identifier("email", "nobody@example.org")]  # the file is no candidate

        def search() -> dict[str, str]:
            indexed.build_index()
            indexed.build_index()
            os.chmod(directory / "acme" / "001565abcd01.cfg", 0)
            return {
                "indexed": repr(_shape(indexed.scan(jan))),
                "full": repr(_shape(plain.scan(jan))),
                "indexed other": repr(_shape(indexed.scan(other))),
                "full other": repr(_shape(plain.scan(other))),
            }

        seen = run_unprivileged(search)
    assert "Permission denied" in seen["full"] and seen["full"].endswith("True)")
    assert seen["indexed"] == seen["full"]
    assert "Permission denied" in seen["full other"] and seen["full other"].endswith("True)")
    assert seen["indexed other"] == seen["full other"]


def test_a_file_unreadable_when_searched_makes_the_result_incomplete(
    estate: tuple[Path, VoipConnector, VoipConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexed while readable, not readable when its records are built: not complete."""
    import connectors.voip.index as voip_index
    from connectors.voip.files import Unreadable

    _directory, indexed, _plain = estate
    indexed.build_index()
    real = voip_index.parse_file

    def refusing(root: Path, relpath: str, mapping: Any) -> Any:
        if relpath == "acme/001565abcd01.cfg":
            raise Unreadable(relpath, "cannot be read: Permission denied")
        return real(root, relpath, mapping)

    monkeypatch.setattr(voip_index, "parse_file", refusing)
    result = indexed.scan([Identifier("extension", "acme/201")])
    assert "acme/001565abcd01.cfg: not read: cannot be read: Permission denied" in result.warnings
    assert result.truncated


def test_the_files_with_something_to_say_are_found_without_reading_every_row(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    import sqlite3

    from connectors.voip.store import FLAGGED

    _directory, indexed, _plain = estate
    stored = _built(indexed)
    connection = sqlite3.connect(stored.path)
    try:
        plan = " ".join(str(row) for row in connection.execute(f"EXPLAIN QUERY PLAN {FLAGGED}"))
    finally:
        connection.close()
    assert "USING INDEX files_flagged" in plan


def test_an_index_of_an_earlier_format_is_built_again(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """Its tables have other columns: dropped, with what they said about the listing."""
    import sqlite3

    _directory, indexed, plain = estate
    files = indexed.build_index().parsed
    indexed.build_index()  # the listing digest is stored
    stored = indexed.file_index()
    assert stored is not None
    connection = sqlite3.connect(stored.path)
    try:
        connection.execute("ALTER TABLE files DROP COLUMN ctime_ns")
        connection.commit()
    finally:
        connection.close()
    done = indexed.build_index()
    assert (done.parsed, done.rebuilt_because) == (files, "the index was of an earlier format")
    _assert_same(indexed, plain)


def test_what_normalising_values_gave_is_not_kept_after_an_update(
    estate: tuple[Path, VoipConnector, VoipConnector],
) -> None:
    """The values shared by the files of one update (up to some 10 MB on a large
    directory) are let go of when it ends, not held through the rest of the search."""
    from connectors.voip.files import scan_directory

    _directory, indexed, plain = estate
    stored = indexed.file_index()
    assert stored is not None
    listing = scan_directory(indexed.directory, indexed.mapping.include, indexed.mapping.exclude)
    done, _warnings = stored.update(listing)
    assert done.parsed > 10
    assert (stored._shared, stored._prepared, stored._tails) == ({}, {}, {})
    _assert_same(indexed, plain)


def test_what_normalising_values_gave_stays_bounded_during_an_update(
    estate: tuple[Path, VoipConnector, VoipConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared values are dropped whenever they pass their limit, so that a large
    directory's build does not grow by them; the index is the same as without it."""
    from connectors.voip import store as store_module
    from connectors.voip.files import scan_directory

    monkeypatch.setattr(store_module, "_SHARED_LIMIT", 3)
    held: list[int] = []
    real = store_module.FileIndex._index_file

    def recording(self: store_module.FileIndex, relpath: str, stamp: Any) -> Any:
        held.append(len(self._shared) + len(self._prepared))
        return real(self, relpath, stamp)

    monkeypatch.setattr(store_module.FileIndex, "_index_file", recording)
    _directory, indexed, plain = estate
    stored = indexed.file_index()
    assert stored is not None
    listing = scan_directory(indexed.directory, indexed.mapping.include, indexed.mapping.exclude)
    done, _warnings = stored.update(listing)
    assert done.parsed == len(held) > 10
    assert max(held) > 3  # the files share values past the limit ...
    assert any(later < earlier for earlier, later in itertools.pairwise(held))  # ... dropped
    _assert_same(indexed, plain)
