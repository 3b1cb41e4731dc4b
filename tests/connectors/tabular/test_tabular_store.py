"""The persistent index of a tabular source, against a full read, on real files.

Every search of the tabular tests (their CSV, XLSX and Parquet fixtures, broken and
hostile files included) and of the demo estate's spreadsheets runs with the index
and without it (a full read); the results must be equal. Then the files change
between searches — a row edited, a file added, removed, renamed, rewritten in place
with its size and modification time kept — and the index file is damaged (rebuilt,
with a warning), its modes checked and its bytes searched for every secret.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import test_tabular
import test_tabular_hostile
from contract_support import demo_estate
from tabular_helpers import SIM_MAPPING, connector, ids, keys, workbook_bytes
from test_tabular import traps  # noqa: F401 - a fixture the imported tests use

from connectors import heap, load_mappings
from connectors.base import ScanResult
from connectors.tabular import read, store
from connectors.tabular.connector import TabularConnector
from discover.demo.alarm import CODEWORDS
from discover.demo.mobile import PUKS
from discover.demo.people import PEOPLE
from discover.engine import open_connectors
from discover.errors import InvalidIdentifier, SourceError
from discover.identifiers import Identifier
from discover.register import default_register
from discover.sources import load_sources
from discover.time_limit import run_within


def _shape(result: ScanResult) -> tuple[Any, ...]:
    """Everything a search answers, except how many rows it had to read."""
    records = [
        (
            r.location,
            r.key,
            [(f.spec.name, str(f.value)) for f in r.fields],
            [(m.identifier.type, m.identifier.value, m.field, m.exact) for m in r.matches],
            [(link.location, link.key, link.relation) for link in r.links],
            r.third_party,
            r.recorded_at,
        )
        for r in result.records
    ]
    return records, list(result.warnings), result.truncated


def _outcome(search: Callable[[], ScanResult]) -> tuple[tuple[Any, ...], ScanResult | None]:
    """What a search answered (or how it failed), and its result."""
    try:
        result = search()
    except SourceError as exc:
        return ("failed", str(exc)), None
    return ("result", _shape(result)), result


def _assert_equal(target: TabularConnector, identifiers: list[Identifier]) -> ScanResult:
    """The indexed search (cold, then warm) answers exactly what a full read answers."""
    assert target.file_index() is not None
    full, _ = _outcome(lambda: target._scan(identifiers))
    cold, _ = _outcome(lambda: TabularConnector.scan(target, identifiers))
    warm, result = _outcome(lambda: TabularConnector.scan(target, identifiers))
    assert cold == full
    assert warm == full
    assert result is not None, full
    return result


# -- every search of the tabular tests, through both paths ------------------------------


def _cases() -> list[Any]:
    """Every test of the tabular and hostile-file modules that searches, with each
    of its parameter sets."""
    cases = []
    for module in (test_tabular, test_tabular_hostile):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("test_") or "scan(" not in inspect.getsource(function):
                continue
            marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
            if not marks:
                cases.append(pytest.param(function, {}, id=name))
                continue
            (mark,) = marks
            names = (
                [n.strip() for n in mark.args[0].split(",")]
                if isinstance(mark.args[0], str)
                else list(mark.args[0])
            )
            for number, values in enumerate(mark.args[1]):
                values = values if len(names) > 1 else (values,)
                params = dict(zip(names, values, strict=True))
                cases.append(pytest.param(function, params, id=f"{name}[{number}]"))
    return cases


@pytest.mark.parametrize(("function", "params"), _cases())
def test_every_tabular_search_answers_the_same_with_the_index(
    function: Callable[..., None],
    params: dict[str, Any],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[int] = []
    indexed_scan = TabularConnector.scan

    def both(self: TabularConnector, identifiers: Any) -> ScanResult:
        identifiers = list(identifiers)
        full, _ = _outcome(lambda: self._scan(identifiers))
        assert _outcome(lambda: indexed_scan(self, identifiers))[0] == full  # builds
        assert _outcome(lambda: indexed_scan(self, identifiers))[0] == full  # from the index
        compared.append(1)
        return indexed_scan(self, identifiers)  # raises as the full read did

    monkeypatch.setattr(TabularConnector, "scan", both)
    arguments = {
        name: params[name] if name in params else request.getfixturevalue(name)
        for name in inspect.signature(function).parameters
    }
    function(**arguments)
    assert compared, "the test searched nothing"


def _demo_identifiers() -> list[Identifier]:
    found: set[Identifier] = set()
    for person in PEOPLE:
        for kind, raw in (
            ("email", person.email),
            ("phone", person.mobile),
            ("phone", person.desk),
            ("iccid", person.iccid),
            ("imei", person.imei),
            ("imsi", person.imsi),
            ("mac", person.mac),
            ("name", f"{person.given} {person.family}"),
        ):
            try:
                found.add(Identifier.parse(kind, raw))
            except InvalidIdentifier:
                continue
    return sorted(found, key=lambda i: (i.type, i.value))


def test_the_demo_spreadsheets_answer_the_same_with_the_index(tmp_path: Path) -> None:
    """The SIM inventory and the keyholder lists (related rows, third parties)."""
    sources = load_sources(demo_estate(tmp_path / "demo"))
    register = default_register()
    tabular = [
        c
        for c in open_connectors(sources, load_mappings(sources, register), register)
        if isinstance(c, TabularConnector)
    ]
    assert len(tabular) >= 3
    identifiers = _demo_identifiers()
    related = 0
    for target in tabular:
        for identifier in identifiers:
            result = _assert_equal(target, [identifier])
            related += sum(1 for r in result.records if r.links)
        _assert_equal(target, identifiers)
    assert related  # relations were followed through the index


# -- files that change between searches ----------------------------------------------------

HEADER = "ICCID,MSISDN,IMEI,Naam,E-mail,PUK\n"


def _row(number: int, email: str, puk: str = "48151623") -> str:
    return f",06{number:08d},,Person {number},{email},{puk}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text(
        HEADER + "".join(_row(n, f"p{n}@example.nl") for n in range(1, 40)), "utf-8"
    )
    (data / "b.csv").write_text(HEADER + _row(100, "zoe@example.nl"), "utf-8")
    return data


def _indexed(tmp_path: Path) -> TabularConnector:
    return connector(tmp_path, SIM_MAPPING, "data/*.csv", index_cache=str(tmp_path / "cache"))


def _email(target: TabularConnector, address: str) -> ScanResult:
    return _assert_equal(target, ids(("email", address)))


def test_edits_additions_removals_and_renames_are_followed(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _indexed(tmp_path)
    first = target.build_index()
    assert (first.parsed, first.dropped) == (2, 0)
    assert target.build_index().parsed == 0  # warm: nothing read to update the index
    assert keys(_email(target, "p7@example.nl")) == ["row=8"]

    # a searched row's e-mail address changes: the old one is gone, the new one found
    a = folder / "a.csv"
    a.write_text(a.read_text("utf-8").replace("p7@example.nl", "jan.new@example.nl"), "utf-8")
    assert target.build_index().parsed == 1
    assert _email(target, "p7@example.nl").records == []
    assert keys(_email(target, "jan.new@example.nl")) == ["row=8"]

    # a file is added
    (folder / "c.csv").write_text(HEADER + _row(200, "fatima@example.nl"), "utf-8")
    assert keys(_email(target, "fatima@example.nl")) == ["row=2"]
    assert target.build_index().parsed == 0  # the search indexed it

    # a file is removed
    (folder / "b.csv").unlink()
    assert _email(target, "zoe@example.nl").records == []
    assert target.build_index().dropped == 0  # the search dropped it

    # a file is renamed: the location follows
    os.rename(folder / "c.csv", folder / "d.csv")
    done = target.build_index()
    assert (done.parsed, done.dropped) == (1, 1)
    (record,) = _email(target, "fatima@example.nl").records
    assert record.location == "data/d.csv"

    # only the file the index points to is opened
    opened: list[str] = []
    original = read.read_sheets

    def spy(path: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(path.name)
        return original(path, *args, **kwargs)

    monkeypatch.setattr("connectors.tabular.connector.read_sheets", spy)
    assert keys(target.scan(ids(("email", "fatima@example.nl")))) == ["row=2"]
    assert opened == ["d.csv"]
    opened.clear()
    assert target.scan(ids(("email", "nobody@example.org"))).records == []
    assert opened == []


def test_a_rewrite_in_place_with_size_and_time_kept_is_noticed(
    folder: Path, tmp_path: Path
) -> None:
    """Same inode, same size, modification time put back: the hash of the ends tells."""
    target = _indexed(tmp_path)
    target.build_index()
    b = folder / "b.csv"
    before = b.stat()
    with b.open("r+", encoding="utf-8") as handle:  # in place: the inode stays
        text = handle.read()
        handle.seek(0)
        handle.write(text.replace("zoe@example.nl", "eva@example.nl"))
    os.utime(b, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = b.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    assert target.build_index().parsed == 1
    assert _email(target, "zoe@example.nl").records == []
    assert keys(_email(target, "eva@example.nl")) == ["row=2"]


def test_a_damaged_index_is_built_again_with_a_warning(folder: Path, tmp_path: Path) -> None:
    target = _indexed(tmp_path)
    target.build_index()
    stored = target.file_index()
    assert stored is not None
    for damage in (b"this is not an index\x00" * 100, stored.path.read_bytes()[:2000]):
        stored.path.write_bytes(damage)
        result = target.scan(ids(("email", "p3@example.nl")))
        assert any("could not be read" in w and "built again" in w for w in result.warnings)
        assert keys(result) == ["row=4"]
        assert target.build_index().parsed == 0  # the rebuilt index is whole again
        assert keys(_email(target, "p3@example.nl")) == ["row=4"]


def test_an_index_another_process_keeps_locked_is_waited_for_then_left_as_it_is(
    folder: Path, tmp_path: Path
) -> None:
    """A lock another connection holds on the index (another process's search or build
    that hangs) is not damage: within a time limit, the search waits half its time,
    then reads every file and says so; the build fails as a transient problem; the
    index stays, and serves again once the lock is let go."""
    target = _indexed(tmp_path)
    target.build_index()
    stored = target.file_index()
    assert stored is not None
    (folder / "b.csv").write_text(HEADER + _row(101, "zoe@example.nl"), "utf-8")
    holder = sqlite3.connect(stored.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(SourceError, match="holds its lock and did not let go") as failed:
            run_within(target, 1, target.build_index)
        assert failed.value.transient
        search = partial(TabularConnector.scan, target, ids(("email", "zoe@example.nl")))
        result = run_within(target, 1, search)
        assert keys(result) == ["row=2"]
        (warning,) = result.warnings
        assert str(stored.path) in warning and "every file was read" in warning
    finally:
        holder.rollback()
        holder.close()
    assert target.index_status()["files"] == 2  # type: ignore[index]
    assert target.build_index().parsed == 1  # the changed file, as the lock kept it
    assert _email(target, "zoe@example.nl").warnings == []


def test_index_modes_and_no_secret_in_it(tmp_path: Path) -> None:
    """The PUKs of a SIM inventory and the codewords of keyholder lists never reach it."""
    sources = load_sources(demo_estate(tmp_path / "demo"))
    register = default_register()
    secrets = [*PUKS.values(), *CODEWORDS.values()]
    checked = 0
    for target in open_connectors(sources, load_mappings(sources, register), register):
        if not isinstance(target, TabularConnector):
            continue
        target.source.connection["index_cache"] = str(tmp_path / "cache")
        target.build_index()
        stored = target.file_index()
        assert stored is not None and stored.path.parent == tmp_path / "cache"
        assert stat.S_IMODE(stored.path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
        status = target.index_status()
        assert status is not None and status["keys"]  # it does hold the identifiers
        raw = stored.path.read_bytes()
        for secret in secrets:
            assert str(secret).encode() not in raw, secret
        for person in PEOPLE:  # identifiers are held as hashes, not as text
            assert person.email.encode() not in raw
            assert person.iccid.encode() not in raw
        checked += 1
    assert checked >= 3


def test_relation_values_are_stored_as_hashes_only(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text(
        "Object,Naam,E-mail,Codewoord\n"
        "OBJ-SECRET-STREET-12,Jan,jan@example.nl,zwaluw\n"
        "OBJ-SECRET-STREET-12,Zoe,zoe@example.nl,merel\n",
        "utf-8",
    )
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "alarm.keyholder",
        "columns": {
            "object": None,
            "name": {"identifier": "name"},
            "email": {"identifier": "email"},
            "codeword": {"secret": True},
        },
        "headers": {"object": ["Object"], "name": ["Naam"], "codeword": ["Codewoord"]},
        "relations": [{"same": "object", "third_party": True, "label": "same object"}],
    }
    target = connector(tmp_path, mapping, "keys.csv", index_cache=str(tmp_path / "cache"))
    result = _assert_equal(target, ids(("email", "jan@example.nl")))
    assert keys(result, third_party=True) == ["row=3"]
    stored = target.file_index()
    assert stored is not None
    raw = stored.path.read_bytes().lower()
    for text in (b"obj-secret-street-12", b"zwaluw", b"merel", b"jan@example.nl"):
        assert text not in raw


def test_rows_read_counts_the_rows_the_index_pointed_to(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_text(
        HEADER + "".join(_row(n, f"p{n}@example.nl") for n in range(1, 2001)), "utf-8"
    )
    target = connector(tmp_path, SIM_MAPPING, "big.csv", index_cache=str(tmp_path / "cache"))
    assert target.build_index().rows == 2000
    result = target.scan(ids(("email", "p1234@example.nl")))
    assert keys(result) == ["row=1235"] and result.rows_read == 1
    assert target.scan(ids(("email", "nobody@example.org"))).rows_read == 0


def test_default_place_is_the_cache_directory(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOVER_CACHE_DIR", str(tmp_path / "env-cache"))
    target = connector(tmp_path, SIM_MAPPING, "data/*.csv")
    stored = target.file_index()
    assert stored is not None
    assert stored.path.parent == tmp_path / "env-cache" / "file-index"
    assert stored.path.name.startswith("tabular-")
    assert keys(target.scan(ids(("email", "zoe@example.nl")))) == ["row=2"]
    assert stored.path.is_file()
    monkeypatch.delenv("DISCOVER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    again = target.file_index()
    assert again is not None
    assert again.path.parent == tmp_path / "xdg" / "discover" / "file-index"


def test_index_false_reads_every_file(folder: Path, tmp_path: Path) -> None:
    target = connector(tmp_path, SIM_MAPPING, "data/*.csv", index=False)
    assert target.file_index() is None and target.index_status() is None
    assert keys(target.scan(ids(("email", "zoe@example.nl")))) == ["row=2"]


def test_an_unusable_cache_directory_reads_every_file_with_a_warning(
    folder: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    target = connector(tmp_path, SIM_MAPPING, "data/*.csv", index_cache=str(blocker / "cache"))
    result = target.scan(ids(("email", "zoe@example.nl")))
    assert result.warnings[0].startswith(f"file index {blocker / 'cache'}")
    assert "every file was read" in result.warnings[0]
    assert keys(result) == ["row=2"]


def test_a_changed_mapping_rebuilds_the_index(folder: Path, tmp_path: Path) -> None:
    target = _indexed(tmp_path)
    target.build_index()
    assert target.build_index().parsed == 0
    shutil.copy(folder / "a.csv", folder / "a-copy.txt")  # not matched by the pattern
    changed = {**SIM_MAPPING, "headers": {**SIM_MAPPING["headers"], "name": ["Naam", "Name"]}}
    other = connector(tmp_path, changed, "data/*.csv", index_cache=str(tmp_path / "cache"))
    assert other.build_index().parsed == 2


def test_a_phone_number_shorter_than_the_indexed_tail_is_searched_in_the_files(
    tmp_path: Path,
) -> None:
    """Niue's numbers have four digits: below the six the index keys numbers by."""
    (tmp_path / "sims.csv").write_text(
        HEADER + ",+683 4002,,Niue,,1\n,0612345678,,Jan,,2\n,004002,,Other,,3\n", "utf-8"
    )
    target = connector(tmp_path, SIM_MAPPING, "sims.csv", index_cache=str(tmp_path / "cache"))
    result = _assert_equal(target, ids(("phone", "+683 4002")))
    assert keys(result) == ["row=2"]
    assert keys(_assert_equal(target, ids(("phone", "+683 4002"), ("phone", "0612345678")))) == [
        "row=2",
        "row=3",
    ]


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("email", "Jan@Example.NL"),
        ("email", "a.b-c+d@x-y.example.org"),
        ("email", "jan@xn--bcher-kva.example"),
        ("email", "jan@example"),
        ("email", "Jan <jan@example.nl>"),
        ("name", "Jan de Vries"),
        ("name", "Jan-Piet  O'Brien"),
        ("name", "J. de Vries -"),
        ("name", "Person 12"),
        ("name", "Vries, Jan de"),
        ("name", "Zoë Çelik"),
    ],
)
def test_names_and_addresses_are_keyed_by_their_exact_normal_form(kind: str, text: str) -> None:
    """The polars form of plain values is the verification's own normal form."""
    import polars as pl

    from connectors.tabular import indexing
    from discover.identifiers import try_normalise

    frame = pl.DataFrame({"__index": [0], "value": [text]})
    (key,) = indexing.keyed(frame, "value", kind).get_column("key").to_list() or [None]
    normal = try_normalise(kind, text)
    expected = None if normal is None else indexing.wanted_keys([Identifier(kind, normal)])
    assert ([key] if key is not None else None) == expected


def test_a_file_that_cannot_be_read_is_read_by_every_search_and_not_indexed_again(
    folder: Path, tmp_path: Path
) -> None:
    os.mkfifo(folder / "c-pipe.csv")
    (folder / "d-broken.csv").write_text(HEADER + ',0611111111,,"Open quote,x,1\n', "utf-8")
    target = _indexed(tmp_path)
    assert target.build_index().parsed == 4
    assert target.build_index().parsed == 0
    result = _email(target, "zoe@example.nl")
    assert keys(result) == ["row=2"] and result.truncated
    assert any("c-pipe.csv: cannot be read" in w for w in result.warnings)
    assert any("d-broken.csv: parsing stopped at line" in w for w in result.warnings)


def test_a_repeated_key_is_seen_across_every_row_not_only_those_read(tmp_path: Path) -> None:
    """The index keeps two rows of five; the key's twin among the others still counts."""
    (tmp_path / "log.csv").write_text(
        "ID,MSISDN\nM-1,0612345678\nM-2,0611111111\nM-1,0622222222\nM-3,0612345678\n"
    )
    mapping = {
        "version": 1,
        "kind": "tabular",
        "category": "mobile.notifications",
        "entity": "event",
        "key": "id",
        "columns": {"id": None, "msisdn": {"identifier": "phone"}},
        "headers": {"msisdn": "MSISDN"},
    }
    target = connector(tmp_path, mapping, "log.csv", index_cache=str(tmp_path / "cache"))
    result = _assert_equal(target, ids(("phone", "0612345678")))
    assert keys(result) == ["id=M-3", "row=2"] and result.rows_read == 2


def test_a_file_another_search_indexed_meanwhile_is_replaced_not_duplicated(
    folder: Path, tmp_path: Path
) -> None:
    """Two searches of one source update its index at once: the later entry wins."""
    target = _indexed(tmp_path)
    target.build_index()
    b = folder / "b.csv"
    b.write_text(HEADER + _row(100, "eva@example.nl"), "utf-8")
    first, second = target.file_index(), target.file_index()
    assert first is not None and second is not None

    def index_while_another_does(path: Path, stamp: Any) -> Any:
        assert second.update([folder / "a.csv", b], target._index_file)[0].parsed == 1
        return target._index_file(path, stamp)

    done, problems = first.update([folder / "a.csv", b], index_while_another_does)
    assert (done.parsed, problems) == (1, [])
    assert target.index_status()["files"] == 2  # type: ignore[index]
    assert keys(_email(target, "eva@example.nl")) == ["row=2"]


# -- memory: one build at a time, nothing of it kept ------------------------------------


def test_a_file_is_indexed_only_once_another_source_is_done_building(
    folder: Path, tmp_path: Path
) -> None:
    """Two sources' index builds do not hold their files in memory side by side."""
    target = _indexed(tmp_path)
    events: list[str] = []
    entered, leave = threading.Event(), threading.Event()

    def other_source() -> None:
        with heap.index_build():
            entered.set()
            leave.wait()
            events.append("the other source's build is done")

    def build() -> None:
        target.build_index()
        events.append("indexed")

    holder = threading.Thread(target=other_source)
    holder.start()
    entered.wait()
    builder = threading.Thread(target=build)
    builder.start()
    builder.join(timeout=0.5)  # long enough for a build of two small files that did not wait
    leave.set()
    holder.join()
    builder.join()
    assert events == ["the other source's build is done", "indexed"]
    assert keys(_email(target, "zoe@example.nl")) == ["row=2"]


def test_a_search_whose_index_is_up_to_date_does_not_wait_for_a_build(
    folder: Path, tmp_path: Path
) -> None:
    target = _indexed(tmp_path)
    target.build_index()
    entered, leave = threading.Event(), threading.Event()

    def other_source() -> None:
        with heap.index_build():
            entered.set()
            leave.wait()

    holder = threading.Thread(target=other_source)
    holder.start()
    entered.wait()
    try:
        assert keys(TabularConnector.scan(target, ids(("email", "zoe@example.nl")))) == ["row=2"]
    finally:
        leave.set()
        holder.join()


def test_a_failed_build_lets_the_next_one_build(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text(HEADER + _row(1, "p1@example.nl"), "utf-8")
    target = _indexed(tmp_path)
    problem = OSError("the disk stopped answering")

    def failing(path: Path, stamp: Any) -> Any:
        raise problem

    stored = target.file_index()
    assert stored is not None
    with pytest.raises(OSError):
        stored.update(target._files(), failing)
    done = threading.Thread(target=target.build_index)
    done.start()
    done.join()
    assert keys(_email(target, "p1@example.nl")) == ["row=2"]


def test_a_workbook_parsed_for_its_index_is_not_kept_in_memory(tmp_path: Path) -> None:
    """The search's later rounds take the rows the index names from the kept cells:
    the whole parsed sheet is not held beside the next source's work."""
    rows: list[list[Any]] = [["ICCID", "MSISDN", "IMEI", "Naam", "E-mail", "PUK"]]
    rows += [
        [None, f"06{n:08d}", None, f"Person {n}", f"p{n}@example.nl", "1234"] for n in range(50)
    ]
    (tmp_path / "sims.xlsx").write_bytes(workbook_bytes({"SIMs": rows}))
    target = connector(tmp_path, SIM_MAPPING, "sims.xlsx", index_cache=str(tmp_path / "cache"))
    result = _assert_equal(target, ids(("email", "p7@example.nl")))
    assert keys(result) == ["row=9"]
    target._cache.clear()  # what the full read of the comparison kept
    TabularConnector.scan(target, ids(("email", "p8@example.nl")))  # warm: nothing parsed
    target.file_index().clear()  # type: ignore[union-attr]
    assert keys(TabularConnector.scan(target, ids(("email", "p9@example.nl")))) == ["row=11"]
    kept = [value for value in target._cache.values() if isinstance(value, pl.DataFrame)]
    assert kept == []


def test_keys_are_stored_sorted_by_key_then_row_in_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of a few keys, written a few entries at a time: each block sorted and
    bounded, and every key's rows found again, per sheet."""
    monkeypatch.setattr(store, "_CHUNK", 5)
    monkeypatch.setattr(store, "_PIECE", 2)
    path = tmp_path / "a.csv"
    path.write_text(HEADER, "utf-8")
    first = pl.DataFrame(
        {
            "key": [3, -7, 3, 9, -7, 3, 1 << 62, -(1 << 62), 0, 3, 5, 5],
            "row": [4, 2, 1, 0, 9, 2, 3, 3, 7, 0, 6, 5],
        },
        schema={"key": pl.Int64, "row": pl.UInt32},
    )
    second = pl.DataFrame(
        {"key": [3, 3, -1], "row": [8, 1, 0]}, schema={"key": pl.Int64, "row": pl.Int64}
    )
    entry = store.FileEntry(
        str(path),
        store.stamp_of(path),
        sheets=[store.SheetEntry(0, "a.csv#1"), store.SheetEntry(1, "a.csv#2")],
        keys={1: second, 0: first},
    )
    index = store.FileIndex(tmp_path / "index" / "keys.sqlite", "settings")
    index.update([path], lambda _path, _stamp: entry)
    with sqlite3.connect(index.path) as connection:
        blocks = connection.execute(
            "SELECT sheet, low, high, count, keys, rows FROM keys ORDER BY rowid"
        ).fetchall()
    stored: dict[int, list[tuple[int, int]]] = {}
    for sheet, low, high, count, key_bytes, row_bytes in blocks:
        found = np.frombuffer(key_bytes, dtype="=i8").tolist()
        rows = np.frombuffer(row_bytes, dtype="=i8").tolist()
        assert 0 < count <= 5 and len(found) == len(rows) == count
        assert (low, high) == (found[0], found[-1])
        stored.setdefault(sheet, []).extend(zip(found, rows, strict=True))
    assert stored == {
        0: sorted(first.iter_rows()),
        1: sorted(second.iter_rows()),
    }
    assert index.lookup([3, 1 << 62]) == {str(path): {0: {0, 1, 2, 3, 4}, 1: {1, 8}}}
