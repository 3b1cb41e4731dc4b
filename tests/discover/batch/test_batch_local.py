"""Batches on the local executor: outputs, report, resumability, failure isolation."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from batch_support import (
    CLIENT_ARGS,
    INSTRUCTION,
    by_id,
    client_options,
    cure,
    package_dirs,
    poison,
    read_report,
    write_csv,
)
from click.testing import CliRunner
from support import synthetic_estate as synthetic
from support.synthetic_estate import SynthEstate

from discover.batch import read_requests, run_batch
from discover.batch.layout import Layout, batch_lock
from discover.cli import cli
from discover.demo.estate import DemoLayout
from discover.demo.people import FATIMA, JAN, PIETER, ZOE
from discover.engine import search
from discover.errors import InputError
from discover.sources import load_sources
from exporters.package import MANIFEST, sha256_file, verify_package

DEMO_ROWS = [
    {"request_id": "R-JAN", "email": JAN.email, "name": JAN.name},
    {"request_id": "R-ZOE", "email": ZOE.email.upper(), "language": "en"},
    {"request_id": "R-PIETER", "phone": "06-1112 2233", "kind": "portability"},
    {"request_id": "R-FATIMA", "email": FATIMA.email, "controller": "client"},
]


def _snapshot(out: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file under out/cases and out/packages."""
    files = {}
    for folder in ("cases", "packages"):
        for path in sorted((out / folder).rglob("*")):
            if path.is_file():
                info = path.stat()
                files[str(path.relative_to(out))] = (info.st_ino, info.st_mtime_ns)
    return files


def test_one_case_and_one_verified_package_per_request(demo: DemoLayout, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_batch(
        write_csv(tmp_path / "r.csv", DEMO_ROWS), demo.sources, out, client_options()
    )
    assert report["totals"] == {"requests": 4, "done": 4, "complete": 4}
    assert read_report(out) == report
    lines = by_id(report)
    assert lines["R-PIETER"]["package"] == "packages/R-PIETER-portability"
    assert lines["R-FATIMA"]["package"] == "packages/R-FATIMA-access-client"
    assert package_dirs(out) == sorted(
        ["R-JAN-access", "R-ZOE-access", "R-PIETER-portability", "R-FATIMA-access-client"]
    )
    for request_id, line in lines.items():
        package = out / line["package"]
        assert verify_package(package) == []
        assert line["package_sha256"] == sha256_file(package / MANIFEST)
        manifest = json.loads((package / MANIFEST).read_text())
        assert manifest["request_id"] == request_id and manifest["complete"] is True
        summary = json.loads((out / line["case"] / "summary.json").read_text())
        assert line["hits"] == {s["name"]: s["hits"] for s in summary["sources"]}
        assert line["hits_total"] == summary["totals"]["hits"] > 0
        assert stat.S_IMODE(package.stat().st_mode) == 0o700
        for path in package.rglob("*"):
            assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)
    request = json.loads((out / "cases/R-ZOE/request.json").read_text())
    assert request["language"] == "en" and request["kind"] == "access"


def test_rerun_skips_complete_requests_and_rewrites_nothing(
    demo: DemoLayout, tmp_path: Path
) -> None:
    requests = write_csv(tmp_path / "r.csv", DEMO_ROWS)
    out = tmp_path / "out"
    first = run_batch(requests, demo.sources, out, client_options())
    before = _snapshot(out)
    second = run_batch(requests, demo.sources, out, client_options())
    assert second["totals"] == {"requests": 4, "skipped": 4, "complete": 4}
    assert _snapshot(out) == before
    for request_id, line in by_id(second).items():
        first_line = by_id(first)[request_id]
        assert (line["package"], line["package_sha256"], line["hits"]) == (
            first_line["package"],
            first_line["package_sha256"],
            first_line["hits"],
        )


def test_a_changed_or_damaged_request_is_done_again(demo: DemoLayout, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch(write_csv(tmp_path / "r.csv", DEMO_ROWS), demo.sources, out, client_options())
    # R-ZOE's package is damaged; R-JAN's row now asks for something else.
    damaged = out / "packages/R-ZOE-access/access.json"
    damaged.write_bytes(damaged.read_bytes().replace(b"Zo", b"Xo", 1))
    changed = [dict(DEMO_ROWS[0], name=""), *DEMO_ROWS[1:]]
    report = run_batch(write_csv(tmp_path / "r2.csv", changed), demo.sources, out, client_options())
    statuses = {rid: line["status"] for rid, line in by_id(report).items()}
    assert statuses == {
        "R-JAN": "done",
        "R-ZOE": "done",
        "R-PIETER": "skipped",
        "R-FATIMA": "skipped",
    }
    assert verify_package(out / "packages/R-ZOE-access") == []
    jan = json.loads((out / "cases/R-JAN/request.json").read_text())
    assert [i["type"] for i in jan["identifiers"]] == ["email"]
    assert package_dirs(out) == sorted(
        ["R-JAN-access", "R-ZOE-access", "R-PIETER-portability", "R-FATIMA-access-client"]
    )


def test_force_redoes_every_request_in_place(demo: DemoLayout, tmp_path: Path) -> None:
    requests = write_csv(tmp_path / "r.csv", DEMO_ROWS)
    out = tmp_path / "out"
    run_batch(requests, demo.sources, out, client_options())
    report = run_batch(requests, demo.sources, out, client_options(force=True))
    assert report["totals"] == {"requests": 4, "done": 4, "complete": 4}
    assert len(package_dirs(out)) == 4


def test_malformed_rows_fail_alone_with_their_line(demo: DemoLayout, tmp_path: Path) -> None:
    text = "\n".join(
        [
            "request_id,kind,email,phone,imei",
            f"OK-1,,{ZOE.email},,",
            "BAD-IMEI,,,,352099001761480",
            f"BAD-KIND,acess,{PIETER.email},,",
            "",
            f"OK-2,,,{JAN.mobile},",
            "TOO-FEW,access",
            f"OK-1,,{FATIMA.email},,",
            "NO-IDS,,,,",
            f'"OK-3",,"{FATIMA.email}",,',
        ]
    )
    requests = tmp_path / "requests.csv"
    requests.write_text(text + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            str(requests),
            *CLIENT_ARGS,
            "--sources",
            str(demo.sources),
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 2, result.output
    report = read_report(out)
    lines = {line["line"]: line for line in report["requests"]}
    assert {n: lines[n]["status"] for n in lines} == {
        2: "done",
        3: "invalid",
        4: "invalid",
        6: "done",
        7: "invalid",
        8: "invalid",
        9: "invalid",
        10: "done",
    }
    assert "check digit" in lines[3]["error"] and lines[3]["request_id"] == "BAD-IMEI"
    assert "kind" in lines[4]["error"] and "acess" in lines[4]["error"]
    assert "expected 5 cells" in lines[7]["error"]
    assert "used already on line 2" in lines[8]["error"]
    assert "no identifier" in lines[9]["error"]
    assert package_dirs(out) == ["OK-1-access", "OK-2-access", "OK-3-access"]
    assert "invalid" in result.output and "BAD-IMEI" in result.output
    assert "Traceback" not in result.output


def test_a_row_with_a_rejected_identifier_gets_a_package_and_is_incomplete(
    demo: DemoLayout, tmp_path: Path
) -> None:
    requests = write_csv(
        tmp_path / "requests.csv",
        [{"request_id": "PART-1", "email": ZOE.email, "phone": "06-123 45"}],
    )
    args = ["batch", str(requests), *CLIENT_ARGS, "--sources", str(demo.sources), "--no-progress"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    [line] = read_report(tmp_path / "out")["requests"]
    assert line["status"] == "incomplete"
    assert line["error"].startswith("rejected column phone: phone number 06-123 45")
    assert package_dirs(tmp_path / "out") == ["PART-1-access"]
    summary = json.loads(
        (tmp_path / "out" / "cases" / "PART-1" / "summary.json").read_text("utf-8")
    )
    assert summary["rejected_identifiers"][0]["place"] == "column phone"
    # the same row searched alone gives the same hits
    single = search(read_requests(requests).items[0].request, load_sources(demo.sources))
    batch_hits = pq.read_table(tmp_path / "out" / "cases" / "PART-1" / "hits.parquet")
    assert batch_hits.num_rows == single.hits.num_rows > 0
    strict = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "strict"), "--strict"])
    assert strict.exit_code == 2, strict.output
    assert read_report(tmp_path / "strict")["requests"][0]["status"] == "invalid"


def test_jsonl_requests_and_a_broken_line(demo: DemoLayout, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        json.dumps({"request_id": "J-1", "identifiers": [{"type": "email", "value": ZOE.email}]})
        + "\n{not json\n\n"
        + json.dumps(
            {
                "request_id": "J-2",
                "kind": "portability",
                "identifiers": [{"type": "phone", "value": JAN.mobile}],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    report = run_batch(requests, demo.sources, tmp_path / "out", client_options())
    lines = {line["line"]: line for line in report["requests"]}
    assert (lines[1]["status"], lines[2]["status"], lines[4]["status"]) == (
        "done",
        "invalid",
        "done",
    )
    assert "invalid JSON" in lines[2]["error"]
    assert lines[4]["package"] == "packages/J-2-portability"


def test_unreadable_requests_file_stops_the_batch_with_exit_2(
    demo: DemoLayout, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text("request_id,fone\nX,0612345678\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["batch", str(requests), "--sources", str(demo.sources), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "requests.csv: line 1 (header): unknown column 'fone'" in result.output
    assert "Traceback" not in result.output


def test_a_second_coordinator_on_the_same_directory_is_refused(
    demo: DemoLayout, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    layout = Layout(out)
    layout.prepare()
    with batch_lock(layout), pytest.raises(InputError, match="another batch"):
        run_batch(write_csv(tmp_path / "r.csv", DEMO_ROWS), demo.sources, out, client_options())


def _isolated_subjects() -> list[int]:
    """People of organisations whose phones are their own (no shared switchboard)."""
    return [i for i in range(20, 140) if not synthetic.shared_switchboard(i // synthetic.ORG_SIZE)][
        :30
    ]


def test_a_source_failing_for_the_second_shard_only(own_synth: SynthEstate, tmp_path: Path) -> None:
    subjects = _isolated_subjects()
    rows = [{"request_id": f"P-{i:03d}", "email": synthetic.person(i).email} for i in subjects]
    requests = write_csv(tmp_path / "r.csv", rows)
    victim = subjects[14]  # the fifth request of the second shard of ten
    with sqlite3.connect(own_synth.crm) as connection:
        stored = connection.execute(
            "SELECT email FROM contacts WHERE id = ?", (victim + 1,)
        ).fetchone()[0]
    poison(own_synth.crm, "contacts", "email", stored, spoil="job_title")
    out = tmp_path / "out"
    options = client_options(shard_size=10, retries=1, backoff=0.01)
    report = run_batch(requests, own_synth.sources, out, options)

    lines = by_id(report)
    shard_of = {rid: line["shard"] for rid, line in lines.items()}
    second = {f"P-{i:03d}" for i in subjects[10:20]}
    assert {rid for rid, shard in shard_of.items() if shard == 2} == second
    for rid, line in lines.items():
        if rid in second:
            assert line["status"] == "incomplete", rid
            assert "crm" in line["failed_sources"] and "integer overflow" in line["error"]
            assert line["package"] is None and line["case"] == f"cases/{rid}"
        else:
            assert line["status"] == "done", rid
    assert len(package_dirs(out)) == 20
    assert report["totals"]["incomplete"] == 10

    # The source is repaired: a rerun does the second shard's requests and only those.
    cure(own_synth.crm, "contacts")
    again = run_batch(requests, own_synth.sources, out, options)
    statuses = {rid: line["status"] for rid, line in by_id(again).items()}
    assert {rid for rid, s in statuses.items() if s == "done"} == second
    assert {rid for rid, s in statuses.items() if s == "skipped"} == set(lines) - second
    assert len(package_dirs(out)) == 30


def test_process_pool_gives_the_same_cases(synth: SynthEstate, tmp_path: Path) -> None:
    rows = synthetic.requests_rows(range(3, 300, 10))
    requests = write_csv(tmp_path / "r.csv", rows)
    one = run_batch(requests, synth.sources, tmp_path / "one", client_options(shard_size=8))
    two = run_batch(
        requests, synth.sources, tmp_path / "two", client_options(shard_size=8, workers=2)
    )
    assert two["totals"]["done"] == one["totals"]["done"] == len(rows)
    assert two["settings"]["shards"] == 4
    for request_id, line in by_id(one).items():
        assert by_id(two)[request_id]["hits"] == line["hits"]
    assert package_dirs(tmp_path / "one") == package_dirs(tmp_path / "two")


def test_a_transient_failure_is_retried_after_a_backoff(
    own_synth: SynthEstate, tmp_path: Path
) -> None:
    """The source fails, recovers while the shard waits, and the retry completes it."""
    from discover.batch.requests import read_requests
    from discover.batch.shard import ShardSpec, run_shard_with_retries

    subjects = _isolated_subjects()[:6]
    rows = [{"request_id": f"T-{i:03d}", "email": synthetic.person(i).email} for i in subjects]
    items = read_requests(write_csv(tmp_path / "r.csv", rows)).items
    with sqlite3.connect(own_synth.crm) as connection:
        stored = connection.execute(
            "SELECT email FROM contacts WHERE id = ?", (subjects[2] + 1,)
        ).fetchone()[0]
    poison(own_synth.crm, "contacts", "email", stored, spoil="job_title")
    spec = ShardSpec(
        batch_id="b",
        run_id="r",
        index=1,
        sources=str(own_synth.sources),
        out=str(tmp_path / "out"),
        formats=["json"],
        items=[item.to_document() for item in items],
    )
    waits: list[float] = []
    events: list[dict] = []

    def recover(delay: float) -> None:
        waits.append(delay)
        cure(own_synth.crm, "contacts")

    lines = run_shard_with_retries(
        spec, retries=3, backoff=0.5, progress=events.append, sleep=recover
    )
    assert waits == [0.5]
    assert [e["event"] for e in events].count("retry") == 1
    assert {line["status"] for line in lines} == {"done"}
    assert len(package_dirs(tmp_path / "out")) == 6


def test_cli_json_report_and_exit_codes(demo: DemoLayout, tmp_path: Path) -> None:
    requests = write_csv(tmp_path / "r.csv", DEMO_ROWS)
    out = tmp_path / "out"
    arguments = [
        "batch",
        str(requests),
        *CLIENT_ARGS,
        "--sources",
        str(demo.sources),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, [*arguments, "--json", "--no-progress", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == read_report(out)
    table = CliRunner().invoke(cli, [*arguments, "--no-progress"])
    assert table.exit_code == 0
    assert "4 requests: 4 skipped" in table.output and "R-PIETER" in table.output
    bad_format = CliRunner().invoke(cli, [*arguments, "--format", "pdf"])
    assert bad_format.exit_code == 2 and "pdf" in bad_format.output


def _export_log(case: Path) -> list[dict[str, Any]]:
    return json.loads((case / "exports.json").read_text(encoding="utf-8"))["exports"]


def test_client_records_without_an_instruction_refuse_the_batch(
    demo: DemoLayout, tmp_path: Path
) -> None:
    requests = write_csv(tmp_path / "r.csv", DEMO_ROWS)
    out = tmp_path / "out"
    args = ["batch", str(requests), "--sources", str(demo.sources), "--out", str(out)]
    # a row's own controller column asks for client records
    result = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "line 5 (R-FATIMA, controller client)" in result.output
    assert "--client-instruction REF" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()  # refused before anything was searched or written
    # the default scope asks for them: every row is refused, the first few named
    result = CliRunner().invoke(cli, [*args, "--controller", "all", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "4 request(s)" in result.output and "line 2 (R-JAN, controller all)" in result.output
    assert not out.exists()
    # a blank instruction is no instruction
    blank = CliRunner().invoke(
        cli, [*args, "--controller", "client", "--client-instruction", " ", "--no-progress"]
    )
    assert blank.exit_code == 2 and not out.exists()


def test_the_client_instruction_is_recorded_in_each_export_log(
    demo: DemoLayout, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = run_batch(
        write_csv(tmp_path / "r.csv", DEMO_ROWS), demo.sources, out, client_options()
    )
    assert report["totals"]["complete"] == 4
    for request_id in ("R-JAN", "R-ZOE", "R-PIETER", "R-FATIMA"):
        [entry] = _export_log(out / "cases" / request_id)
        assert entry["client_instruction"] == INSTRUCTION
        assert entry["controller_scope"] == ("client" if request_id == "R-FATIMA" else "all")


def test_the_default_scope_is_the_providers_own_data(demo: DemoLayout, tmp_path: Path) -> None:
    rows = [row for row in DEMO_ROWS if "controller" not in row]
    requests = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            str(requests),
            "--sources",
            str(demo.sources),
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert package_dirs(out) == sorted(
        ["R-JAN-access-provider", "R-ZOE-access-provider", "R-PIETER-portability-provider"]
    )
    [entry] = _export_log(out / "cases" / "R-JAN")
    assert entry["controller_scope"] == "provider" and entry["client_instruction"] is None
    everything = run_batch(requests, demo.sources, tmp_path / "all", client_options())
    [full] = _export_log(tmp_path / "all" / "cases" / "R-JAN")
    # Jan's employer is a client: its records stay out of the provider's package
    assert entry["included"]["hits"] < full["included"]["hits"]
    assert everything["totals"]["complete"] == 3
