"""Reading requests files (CSV and JSON Lines), planning shards, progress events."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from batch_support import write_csv, write_jsonl
from rich.console import Console

from discover.batch import BatchOptions, plan_shards, read_requests, run_batch
from discover.batch.progress import BatchProgress
from discover.batch.requests import RequestDefaults, fingerprint
from discover.demo.estate import DemoLayout
from discover.demo.people import JAN, ZOE
from discover.errors import ConfigError
from discover.identifiers import Identifier


def test_csv_columns_several_values_and_request_fields(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "\ufeffRequest_ID,Kind,email,phone,name,received,client,subject_name,note\n"
        'A-1,portability," Jan@Example.NL ; jan2@example.nl ",06-1234 5678,"de Vries, Jan",'
        "2026-01-31,Acme,Jan de Vries,by post\n",
        encoding="utf-8",
    )
    [item] = read_requests(path).items
    request = item.request
    assert item.line == 2 and request.request_id == "A-1" and request.kind == "portability"
    assert request.identifiers == (
        Identifier("email", "jan@example.nl"),
        Identifier("email", "jan2@example.nl"),
        Identifier("phone", "+31612345678"),
        Identifier("name", "jan de vries"),
    )
    assert str(request.received) == "2026-01-31"
    assert (request.client, request.subject_name, request.note) == (
        "Acme",
        "Jan de Vries",
        "by post",
    )


def test_rows_without_an_id_get_a_stable_one(tmp_path: Path) -> None:
    rows = [{"email": ZOE.email}, {"email": JAN.email}]
    first = read_requests(write_csv(tmp_path / "a.csv", rows)).items
    second = read_requests(write_csv(tmp_path / "b.csv", rows[::-1])).items
    ids = {item.request.identifiers[0].value: item.request_id for item in first}
    assert ids == {item.request.identifiers[0].value: item.request_id for item in second}
    assert all(rid.startswith("REQ-B-") for rid in ids.values()) and len(set(ids.values())) == 2


def test_fingerprint_follows_the_row_and_the_formats_not_the_date(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [{"request_id": "A", "email": ZOE.email}])
    [item] = read_requests(path).items
    [again] = read_requests(path).items
    [other_format] = read_requests(path, formats=("json", "csv")).items
    assert item.fingerprint == again.fingerprint != other_format.fingerprint
    document = {
        "version": 1,
        "request_id": "A",
        "kind": "access",
        "language": "nl",
        "controller": "provider",  # the default scope
        "identifiers": [{"type": "email", "value": ZOE.email}],
    }
    assert item.fingerprint == fingerprint(document, ("json",))


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        ("", "line 1", "empty"),
        ("request_id,fone\n", "line 1 (header)", "unknown column 'fone'"),
        ("email,EMAIL\n", "line 1 (header)", "appears twice"),
        ("request_id,kind\n", "line 1 (header)", "no identifier column"),
    ],
)
def test_a_broken_header_stops_the_file(
    tmp_path: Path, text: str, place: str, message: str
) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_requests(path)
    assert caught.value.file == "requests.csv" and caught.value.place == place
    assert message in caught.value.message


def test_a_file_that_is_not_utf8_or_missing(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_bytes("email\nzoë@example.nl\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_requests(path)
    with pytest.raises(ConfigError, match="file not found"):
        read_requests(tmp_path / "missing.csv")


def test_jsonl_rows_and_their_errors(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"request_id": "J-1", "identifiers": [{"type": "email", "value": ZOE.email}]},
            "[1, 2]",
            {"request_id": "J-3", "identifiers": [{"type": "imei", "value": "352099001761480"}]},
            {"request_id": "J-4", "identifiers": []},
            {
                "version": 1,
                "request_id": "J-5",
                "language": "en",
                "identifiers": [{"type": "phone", "value": JAN.mobile}],
            },
        ],
    )
    batch_input = read_requests(path)
    assert [item.request_id for item in batch_input.items] == ["J-1", "J-5"]
    errors = {row.line: row.error for row in batch_input.invalid}
    assert set(errors) == {2, 3, 4}
    assert "a JSON object" in errors[2]
    assert errors[3].startswith("identifiers: no usable identifier (identifiers[0].value")
    assert "check digit" in errors[3]
    assert errors[4].startswith("identifiers")


def test_plan_shards() -> None:
    items = list(range(10))
    assert [len(s) for s in plan_shards(items, shard_size=4, workers=1)] == [4, 4, 2]  # type: ignore[arg-type]
    assert [len(s) for s in plan_shards(items, shard_size=100, workers=3)] == [4, 4, 2]  # type: ignore[arg-type]
    assert [len(s) for s in plan_shards(items, shard_size=100, workers=1)] == [10]  # type: ignore[arg-type]
    assert plan_shards([], shard_size=5, workers=2) == []
    flat = [x for shard in plan_shards(items, shard_size=3, workers=2) for x in shard]  # type: ignore[arg-type]
    assert flat == items


def test_progress_events_per_source_and_per_request(demo: DemoLayout, tmp_path: Path) -> None:
    rows = [{"request_id": "P-1", "email": ZOE.email}, {"request_id": "P-2", "email": "x"}]
    events: list[dict] = []
    run_batch(
        write_csv(tmp_path / "r.csv", rows),
        demo.sources,
        tmp_path / "out",
        BatchOptions(),
        progress=events.append,
    )
    requests = [e["status"] for e in events if e["event"] == "request"]
    assert sorted(requests) == ["done", "invalid"]
    scans = [e for e in events if e["event"] == "scan"]
    assert {"crm", "telephony"} <= {e["source"] for e in scans}
    assert all(e["identifiers"] > 0 and e["ok"] for e in scans)
    assert not any("@" in json.dumps(e) for e in events)  # counts only, never values

    # The bars render counts and rates from those events.
    buffer = io.StringIO()
    bars = BatchProgress(2, console=Console(file=buffer, width=160, force_terminal=False))
    with bars:
        for event in events:
            bars(event)
    text = buffer.getvalue()
    assert "2/2 requests" in text and "crm" in text and "ids/s" in text
    assert bars.statuses == {"done": 1, "invalid": 1}


def test_chunk_size_option_then_sources_file_then_batch_default(tmp_path: Path) -> None:
    from discover.batch.runner import BATCH_CHUNK_SIZE, batch_chunk_size

    plain = tmp_path / "plain.yaml"
    plain.write_text("version: 1\nsources: []\n", encoding="utf-8")
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text("version: 1\nsettings: {chunk_size: 200}\nsources: []\n", encoding="utf-8")
    assert batch_chunk_size(plain, None) == BATCH_CHUNK_SIZE == 5000
    assert batch_chunk_size(tuned, None) == 200
    assert batch_chunk_size(tuned, 3000) == 3000


def test_a_row_with_one_malformed_identifier_is_searched_with_the_others(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        [
            {"request_id": "P-1", "email": ZOE.email, "phone": "06-123 45"},
            {"request_id": "P-2", "email": "", "phone": "06-123 45"},
        ],
    )
    batch_input = read_requests(path)
    [item] = batch_input.items
    assert item.request.identifiers == (Identifier("email", ZOE.email.lower()),)
    [rejected] = item.request.rejected
    assert (rejected.place, rejected.value) == ("column phone", "06-123 45")
    # it travels with the item to a worker and back
    assert type(item).from_document(item.to_document()).request == item.request
    [invalid] = batch_input.invalid
    assert invalid.line == 3 and invalid.error.startswith(
        "no usable identifier in this row (column phone: phone number 06-123 45"
    )
    strict = read_requests(path, defaults=RequestDefaults(strict=True))
    assert not strict.items and [row.line for row in strict.invalid] == [2, 3]
    assert strict.invalid[0].error.startswith("column phone: phone number 06-123 45")


def test_jsonl_rows_are_partial_too_unless_strict(tmp_path: Path) -> None:
    row = {
        "request_id": "J-1",
        "identifiers": [
            {"type": "email", "value": ZOE.email},
            {"type": "imei", "value": "352099001761480"},
        ],
    }
    path = write_jsonl(tmp_path / "r.jsonl", [row])
    [item] = read_requests(path).items
    assert item.request.rejected[0].place == "identifiers[1].value"
    [invalid] = read_requests(path, defaults=RequestDefaults(strict=True)).invalid
    assert "check digit should be 1" in invalid.error
