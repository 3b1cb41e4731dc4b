"""The case directory: written privately and atomically, read back unchanged."""

from __future__ import annotations

import json
import stat
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_support import build_demo, demo, run, sql_source

from discover.case import (
    DECISIONS_FILE,
    HITS_FILE,
    REQUEST_FILE,
    SUMMARY_FILE,
    is_case,
    read_case,
    summarise,
    write_case,
)
from discover.demo.people import JAN
from discover.engine import SearchResult
from discover.errors import CaseError
from discover.files import sha256_file
from discover.hits import HITS_SCHEMA

#: the demo's secrets on the rows Jan's search reaches (internet line 1, website account 1)
PPPOE_PASSWORD = "Pp0e-Acme!2026"
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$ZGVtbw$ZGVtb2hhc2g"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def result(demo_dir: Path) -> SearchResult:
    return run(demo(demo_dir), ("email", JAN.email), ("name", JAN.name))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip(result: SearchResult, tmp_path: Path) -> None:
    case_dir = tmp_path / "cases" / "REQ-T"
    summary = write_case(result, case_dir)
    case = read_case(case_dir)
    assert case.hits.schema.equals(HITS_SCHEMA)
    assert case.hits.equals(result.hits)
    assert case.request.request_id == "REQ-T"
    assert case.request.identifiers == result.request.identifiers
    assert case.summary == json.loads(json.dumps(summary, default=str))
    assert case.complete is True
    assert is_case(case_dir)


def test_files_are_private(result: SearchResult, tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    assert _mode(case_dir) == 0o700
    for name in (REQUEST_FILE, HITS_FILE, SUMMARY_FILE):
        assert _mode(case_dir / name) == 0o600, name
    assert sorted(p.name for p in case_dir.iterdir()) == sorted(
        [REQUEST_FILE, HITS_FILE, SUMMARY_FILE]
    )  # no temporary files left behind


def test_an_existing_case_is_not_overwritten_without_force(
    result: SearchResult, tmp_path: Path
) -> None:
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    before = (case_dir / HITS_FILE).read_bytes()
    (case_dir / DECISIONS_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(CaseError, match="already holds a case"):
        write_case(result, case_dir)
    assert (case_dir / HITS_FILE).read_bytes() == before
    write_case(result, case_dir, force=True)
    assert not (case_dir / DECISIONS_FILE).exists()  # they were about the old hits
    file_path = tmp_path / "plain-file"
    file_path.write_text("x", encoding="utf-8")
    with pytest.raises(CaseError, match="not a directory"):
        write_case(result, file_path)


def test_summary_counts_per_source_and_category(result: SearchResult) -> None:
    summary = summarise(result)
    rows = result.hits.to_pylist()
    records = {(r["source"], r["location"], r["record_key"]): r["match"] for r in rows}
    assert summary["totals"]["records"] == len(records)
    assert summary["totals"]["hits"] == len(rows)
    assert summary["totals"]["by_match"] == dict(sorted(Counter(records.values()).items()))
    assert summary["totals"]["needs_review"] == Counter(records.values())["possible"] > 0
    # Jan's internet line and website account, and his namesake's line (possible)
    assert summary["totals"]["secrets_withheld"] == 3
    assert summary["totals"]["overdue"] == sum(r["overdue"] for r in rows) > 0
    for source in summary["sources"]:
        mine = [r for r in rows if r["source"] == source["name"]]
        assert source["hits"] == len(mine)
        assert source["records"] == len({(r["location"], r["record_key"]) for r in mine})
        assert source["categories"] == dict(sorted(Counter(r["category"] for r in mine).items()))
        assert source["status"] == "ok"
    telephony = next(s for s in summary["sources"] if s["name"] == "telephony")
    assert telephony["records"] == 9  # Jan's six calls, Zoë's call to him, traffic, recording
    assert telephony["categories"]["usage.calls"] == 7 * 7  # seven calls, seven fields each
    assert summary["failed_sources"] == [] and summary["complete"] is True
    assert [i["identifier"] for i in summary["identifiers"]][:2] == [
        "email:jan.devries@acme-logistiek.nl",
        "name:jan de vries",
    ]


def test_a_failed_source_is_in_the_summary(demo_dir: Path, tmp_path: Path) -> None:
    broken = sql_source("archive", "shipped:demo/crm.yaml", "sqlite:///no-such.sqlite")
    failed = run(demo(demo_dir, extra=[broken]), ("email", JAN.email))
    summary = write_case(failed, tmp_path / "case")
    assert summary["complete"] is False
    assert summary["failed_sources"] == ["archive"]
    archive = next(s for s in summary["sources"] if s["name"] == "archive")
    assert archive["status"] == "failed" and "does not exist" in archive["error"]
    assert read_case(tmp_path / "case").complete is False


def _everything_in(path: Path) -> bytes:
    """The file's bytes, its decoded values and its Parquet metadata (statistics too):
    the pages are zstd-compressed, so the raw bytes alone would hide a value."""
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    statistics = [
        str(metadata.row_group(g).column(c).statistics)
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    ]
    decoded = json.dumps(parquet.read().to_pylist(), default=str)
    schema_metadata = str(parquet.schema_arrow.metadata)
    return b"\n".join(
        [
            path.read_bytes(),
            decoded.encode(),
            schema_metadata.encode(),
            *map(str.encode, statistics),
        ]
    )


def test_secrets_never_reach_the_case_files(result: SearchResult, tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    withheld = [r for r in result.hits.to_pylist() if r["secret"]]
    assert {r["field"] for r in withheld} == {"pppoe_password", "password_hash"}
    assert all(r["value"] is None for r in withheld)
    contents = {
        HITS_FILE: _everything_in(case_dir / HITS_FILE),
        REQUEST_FILE: (case_dir / REQUEST_FILE).read_bytes(),
        SUMMARY_FILE: (case_dir / SUMMARY_FILE).read_bytes(),
    }
    for name, data in contents.items():
        for secret in (PPPOE_PASSWORD, PASSWORD_HASH, "Bakk3rij#Line"):
            assert secret.encode() not in data, (name, secret)


def test_the_secret_search_would_see_a_leaked_secret(result: SearchResult, tmp_path: Path) -> None:
    """Control for the test above: a secret put into a hit is found by the same search."""
    leaked = result.hits.to_pylist()
    for row in leaked:
        if row["field"] == "pppoe_password":
            row["value"] = PPPOE_PASSWORD
        if row["field"] == "password_hash":
            row["value"] = PASSWORD_HASH
    table = pa.Table.from_pylist(leaked, schema=HITS_SCHEMA)
    write_case(_with_hits(result, table), tmp_path / "leak")
    data = _everything_in(tmp_path / "leak" / HITS_FILE)
    assert PPPOE_PASSWORD.encode() in data and PASSWORD_HASH.encode() in data


def _with_hits(result: SearchResult, hits: pa.Table) -> SearchResult:
    from dataclasses import replace

    return replace(result, hits=hits)


def test_reading_a_broken_case_names_the_problem(result: SearchResult, tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no such case directory"):
        read_case(tmp_path / "missing")
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    (case_dir / HITS_FILE).write_bytes(b"not parquet")
    with pytest.raises(CaseError, match="unreadable"):
        read_case(case_dir)
    (case_dir / HITS_FILE).unlink()
    with pytest.raises(CaseError, match=f"{HITS_FILE} is missing"):
        read_case(case_dir)


def test_an_old_hits_file_with_reordered_columns_is_read_into_the_schema(
    result: SearchResult, tmp_path: Path
) -> None:
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    reordered = result.hits.select(list(reversed(HITS_SCHEMA.names)))
    pq.write_table(reordered, case_dir / HITS_FILE)
    summary = json.loads((case_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    summary["checksums"][HITS_FILE] = sha256_file(case_dir / HITS_FILE)
    (case_dir / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
    assert read_case(case_dir).hits.equals(result.hits)


#: Runs write_case in a child that SIGKILLs itself just before its STEP-th file-system
#: operation (mkdir, chmod, rename, replace, fsync, exchange): every moment of a write.
_KILL_AT_STEP = """
import os, pickle, signal, sys
from pathlib import Path
import discover.files as files
from discover.case import write_case

result_file, case_dir, step, force = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(result_file, "rb") as handle:
    result = pickle.load(handle)
calls = [0]

def killing(function):
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return wrapper

for name in ("mkdir", "chmod", "rename", "replace", "fsync", "fchmod"):
    setattr(os, name, killing(getattr(os, name)))
files.exchange = killing(files.exchange)
write_case(result, case_dir, force=force == "force")
"""


def _other_request(result: SearchResult) -> SearchResult:
    """Another subject's search: another request id, fewer hits."""
    from dataclasses import replace

    request = replace(result.request, request_id="REQ-OTHER")
    hits = result.hits.slice(0, 5)
    hits = hits.set_column(0, HITS_SCHEMA.field("request_id"), pa.array(["REQ-OTHER"] * 5))
    return replace(result, request=request, hits=hits)


@pytest.mark.parametrize("force", [True, False], ids=["replacing", "new"])
def test_a_case_killed_at_any_step_is_the_old_or_the_new_never_a_mixture(
    result: SearchResult, tmp_path: Path, force: bool
) -> None:
    import pickle
    import signal
    import subprocess
    import sys

    old, new = result, _other_request(result)
    pickled = tmp_path / "new.pickle"
    pickled.write_bytes(pickle.dumps(new))
    finished = False
    for step in range(1, 60):
        case_dir = tmp_path / f"step-{step}" / "case"
        if force:
            write_case(old, case_dir)
        mode = "force" if force else "new"
        run = subprocess.run(
            [sys.executable, "-c", _KILL_AT_STEP, str(pickled), str(case_dir), str(step), mode],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode == 0:
            finished = True
            assert read_case(case_dir).request.request_id == "REQ-OTHER"
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
        if is_case(case_dir):
            case = read_case(case_dir)  # whole: its parts agree, or reading refuses
            expected = old if case.request.request_id == old.request.request_id else new
            assert case.hits.equals(expected.hits), step
            assert force or case.request.request_id == "REQ-OTHER"
        else:
            assert not force, f"step {step}: the old case is gone"
        # a killed write never blocks the next one, and its leftovers are cleared
        write_case(new, case_dir, force=is_case(case_dir))
        assert read_case(case_dir).hits.equals(new.hits)
        assert [p.name for p in case_dir.parent.iterdir()] == ["case"], step
    assert finished, "the write never got to its end"


def test_a_case_mixed_from_two_searches_is_refused(result: SearchResult, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_case(result, first)
    write_case(_other_request(result), second)
    (first / REQUEST_FILE).write_bytes((second / REQUEST_FILE).read_bytes())
    with pytest.raises(CaseError, match=r"a/summary.json: request_id: 'REQ-T' but request.json"):
        read_case(first)
    write_case(result, first, force=True)
    (first / HITS_FILE).write_bytes((second / HITS_FILE).read_bytes())
    with pytest.raises(CaseError, match=r"checksums.hits.parquet: hits.parquet has changed"):
        read_case(first)


def test_a_half_written_case_does_not_block_a_rerun(result: SearchResult, tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    (case_dir / REQUEST_FILE).write_text("{}", encoding="utf-8")  # killed before its summary
    (case_dir / ".hits.parquet.x1.part").write_bytes(b"half")
    assert not is_case(case_dir)
    write_case(result, case_dir)
    assert read_case(case_dir).hits.equals(result.hits)


def test_a_case_reached_through_a_link_is_replaced_where_it_lives(
    result: SearchResult, tmp_path: Path
) -> None:
    real = tmp_path / "store" / "case"
    write_case(result, real)
    link = tmp_path / "link"
    link.symlink_to(real)
    write_case(_other_request(result), link, force=True)
    assert link.is_symlink() and read_case(link).request.request_id == "REQ-OTHER"
    assert sorted(p.name for p in real.parent.iterdir()) == ["case"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "store"]


def test_a_case_without_its_summary_but_with_decisions_needs_force(
    result: SearchResult, tmp_path: Path
) -> None:
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    (case_dir / DECISIONS_FILE).write_text("{}", encoding="utf-8")
    (case_dir / SUMMARY_FILE).unlink()
    with pytest.raises(CaseError, match=r"without summary\.json but with decisions\.json"):
        write_case(result, case_dir)
    write_case(result, case_dir, force=True)
    assert is_case(case_dir) and not (case_dir / DECISIONS_FILE).exists()


def test_the_current_directory_is_not_replaced(
    result: SearchResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    with pytest.raises(CaseError, match="current directory"):
        write_case(result, Path("."))
    with pytest.raises(CaseError, match="current directory"):
        write_case(result, tmp_path, force=True)
    assert list(folder.iterdir()) == []


def test_a_case_without_checksums_asks_for_a_new_search(
    result: SearchResult, tmp_path: Path
) -> None:
    case_dir = tmp_path / "case"
    write_case(result, case_dir)
    summary = json.loads((case_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    del summary["checksums"]
    (case_dir / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(CaseError, match=r"case/summary\.json: checksums: missing.*search again"):
        read_case(case_dir)


_WRITE_AND_LIST_COMPUTE = """
import pickle, sys
from pathlib import Path
from discover.case import write_case

with open(sys.argv[1], "rb") as handle:
    result = pickle.load(handle)
write_case(result, Path(sys.argv[2]))
print("pyarrow.compute" in sys.modules)
"""


def test_writing_a_case_does_not_load_pyarrow_compute(result: SearchResult, tmp_path: Path) -> None:
    """A search writes its case without loading pyarrow's compute functions (about
    0.04 s of its start); reading a case checks its columns with them."""
    import pickle
    import subprocess
    import sys

    pickled = tmp_path / "result.pickle"
    pickled.write_bytes(pickle.dumps(result))
    case_dir = tmp_path / "case"
    run = subprocess.run(
        [sys.executable, "-c", _WRITE_AND_LIST_COMPUTE, str(pickled), str(case_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "False"
    assert read_case(case_dir).hits.equals(result.hits)
