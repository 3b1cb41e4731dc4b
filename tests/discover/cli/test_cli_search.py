"""``discover search``: every identifier flag, request files, the case, output and exit codes.

The source is a real SQLite database written by the test, holding one subject with
every identifier type in a different surface spelling than the one searched for,
and one other person. Bad input must end with exit code 2 and a message naming the
file (or option), the place and what was expected: never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner, Result

from discover.cli import cli

SUBJECT = {
    "id": 1,
    "email": "Jan.DeVries@Example.NL",
    "phone": "06-1234 5678",
    "mac": "00:15:65:AB:CD:01",
    "imei": "35-209900-176148-1",
    "iccid": "8931 0410 1234 5678 902",
    "imsi": "204 04 1234567890",
    "ip": "192.0.2.10",
    "postcode": "2289 ba",
    "name": "Vries, Jan de",
    "username": "ACME\\jdvries",
    "account": "CUST-0042",
    "extension": "ACME/201",
}
OTHER = {
    "id": 2,
    "email": "zoe.celik@example.nl",
    "phone": "+31 6 8765 4321",
    "mac": "001565abcd02",
    "imei": "353325091234561",
    "iccid": "8931041012345678910",
    "imsi": "204041234567891",
    "ip": "192.0.2.11",
    "postcode": "3011 WR",
    "name": "Zoë Çelik",
    "username": "zcelik",
    "account": "CUST-0043",
    "extension": "acme/202",
}
#: what to type for each flag, and the canonical identifier it finds
SEARCHES = {
    "email": ("jan.devries@example.nl", "email:jan.devries@example.nl"),
    "phone": ("+31612345678", "phone:+31612345678"),
    "mac": ("0015.65ab.cd01", "mac:001565abcd01"),
    "imei": ("3520990017614823", "imei:352099001761481"),  # an IMEISV
    "iccid": ("8931041012345678902", "iccid:8931041012345678902"),
    "imsi": ("204041234567890", "imsi:204041234567890"),
    "ip": ("::ffff:192.0.2.10", "ip:192.0.2.10"),
    "postcode": ("2289BA", "postcode:2289BA"),
    "name": ("Jan de Vries", "name:jan de vries"),
    "username": ("JDVRIES", "username:jdvries"),
    "account": ("cust-0042", "account:cust-0042"),
    "extension": ("acme/201", "extension:acme/201"),
}
CATEGORIES = {
    "mac": "voip.handset",
    "imei": "mobile.device",
    "iccid": "mobile.sim",
    "imsi": "mobile.sim",
    "ip": "internet.line",
}


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """A SQLite source, its mapping and a sources file; returns the sources file."""
    database = tmp_path / "subscribers.sqlite"
    columns = list(SUBJECT)
    with sqlite3.connect(database) as connection:
        connection.execute(f"CREATE TABLE subscribers ({', '.join(columns)})")
        for row in (SUBJECT, OTHER):
            connection.execute(
                f"INSERT INTO subscribers VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns],
            )
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "subscribers": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": {},
                    **{
                        kind: {
                            "identifier": kind,
                            "expand": False,
                            **({"category": CATEGORIES[kind]} if kind in CATEGORIES else {}),
                        }
                        for kind in SEARCHES
                    },
                },
            }
        },
    }
    (tmp_path / "subscribers.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return write_sources(tmp_path, [sqlite_source()])


def sqlite_source(name: str = "subscribers") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "sql",
        "mapping": "subscribers.yaml",
        "connection": {"url": "sqlite:///subscribers.sqlite"},
    }


def write_sources(folder: Path, sources: list[dict[str, Any]], **top: Any) -> Path:
    path = folder / "sources.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, **top, "sources": sources}, sort_keys=False), encoding="utf-8"
    )
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def bad_input(result: Result, *expected: str) -> str:
    """Assert exit code 2, no traceback, and each expected text on stderr."""
    text = " ".join(result.stderr.split())  # rich wraps long lines
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for part in expected:
        assert part in text, (part, text)
    return text


# -- searching ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SEARCHES))
def test_every_identifier_flag(estate: Path, tmp_path: Path, kind: str) -> None:
    typed, canonical = SEARCHES[kind]
    case = tmp_path / "case"
    result = invoke(
        "search", "--sources", str(estate), f"--{kind}", typed, "--case", str(case), "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["complete"] is True
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    assert request["identifiers"] == [{"type": kind, "value": typed}]
    hits = pq.read_table(case / "hits.parquet").to_pylist()
    assert {h["record_key"] for h in hits} == {"id=1"}  # the subject, not the other person
    assert {h["matched_on"] for h in hits} == {canonical}
    weak = kind in ("name", "postcode")
    stored_as_canonical = SUBJECT[kind] == canonical.partition(":")[2]  # only the IP here
    expected = "possible" if weak else "exact" if stored_as_canonical else "normalised"
    assert {h["match"] for h in hits} == {expected}
    matched = [h for h in hits if h["field"] == kind]
    assert matched and matched[0]["value"] == SUBJECT[kind]


def test_several_flags_and_repeats(estate: Path, tmp_path: Path) -> None:
    case = tmp_path / "case"
    result = invoke(
        "search", "--sources", str(estate), "--email", "x@example.nl",
        "--email", "JAN.DEVRIES@example.nl", "--phone", "0612345678",
        "--request-id", "REQ-TEST-1", "--kind", "portability", "--lang", "en",
        "--client", "Acme", "--case", str(case), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    assert request["request_id"] == "REQ-TEST-1"
    assert request["kind"] == "portability" and request["language"] == "en"
    assert request["client"] == "Acme"
    assert len(request["identifiers"]) == 3
    matched_on = {h["matched_on"] for h in pq.read_table(case / "hits.parquet").to_pylist()}
    assert matched_on == {"email:jan.devries@example.nl; phone:+31612345678"}


def test_request_file(estate: Path, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "version": 1,
                "request_id": "REQ-2026-0001",
                "kind": "access",
                "received": "2026-11-20",
                "identifiers": [{"type": "imei", "value": "352099001761481"}],
            }
        ),
        encoding="utf-8",
    )
    case = tmp_path / "case"
    result = invoke(
        "search", "--sources", str(estate), "--request", str(request), "--case", str(case)
    )
    assert result.exit_code == 0, result.output
    written = json.loads((case / "request.json").read_text(encoding="utf-8"))
    assert written["request_id"] == "REQ-2026-0001" and written["received"] == "2026-11-20"
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["request_id"] == "REQ-2026-0001"


def test_case_directory_and_printed_summary(estate: Path, tmp_path: Path) -> None:
    case = tmp_path / "case"
    result = invoke(
        "search", "--sources", str(estate), "--email", "jan.devries@example.nl", "--case", str(case)
    )
    assert result.exit_code == 0, result.output
    for name in ("request.json", "hits.parquet", "summary.json"):
        mode = (case / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, name
    assert stat.S_IMODE(case.stat().st_mode) == 0o700
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    (source,) = summary["sources"]
    assert source["name"] == "subscribers" and source["status"] == "ok"
    assert source["records"] == 1
    assert set(source["categories"]) == {
        "general.contact",
        "voip.handset",
        "mobile.device",
        "mobile.sim",
        "internet.line",
    }
    out = " ".join(result.stdout.split())
    assert "subscribers" in out and "general.contact" in out and "mobile.sim" in out
    assert f"complete: case written to {case}" in " ".join(out.split())
    assert "jan.devries" not in result.stderr  # no identifier values in the log


def test_json_prints_only_the_summary(estate: Path, tmp_path: Path) -> None:
    case = tmp_path / "case"
    result = invoke(
        "search", "--sources", str(estate), "--phone", "06 12345678", "--case", str(case), "--json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing but JSON on stdout
    assert document["case"] == str(case)
    assert document["totals"]["records"] == 1
    assert document["failed_sources"] == []
    assert document == {
        **json.loads((case / "summary.json").read_text(encoding="utf-8")),
        "case": str(case),
    }


def test_existing_case_needs_force(estate: Path, tmp_path: Path) -> None:
    case = tmp_path / "case"
    args = [
        "search",
        "--sources",
        str(estate),
        "--email",
        "jan.devries@example.nl",
        "--case",
        str(case),
    ]
    assert invoke(*args).exit_code == 0
    bad_input(invoke(*args), f"{case} already holds a case; choose another --case or pass --force")
    assert invoke(*args, "--force").exit_code == 0


# -- a failing source -----------------------------------------------------------------


def test_failed_source_exit_1_others_still_searched(estate: Path, tmp_path: Path) -> None:
    broken = {
        "name": "billing",
        "kind": "sql",
        "mapping": "subscribers.yaml",
        "connection": {"url": "postgresql://discover@127.0.0.1:1/billing", "timeout": 3},
    }
    sources = write_sources(tmp_path, [broken, sqlite_source()])
    case = tmp_path / "case"
    result = invoke(
        "search",
        "--sources",
        str(sources),
        "--email",
        "jan.devries@example.nl",
        "--case",
        str(case),
        "--json",
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["complete"] is False
    assert summary["failed_sources"] == ["billing"]
    by_name = {s["name"]: s for s in summary["sources"]}
    assert by_name["billing"]["status"] == "failed"
    assert "OperationalError" in by_name["billing"]["error"]
    assert by_name["subscribers"]["status"] == "ok" and by_name["subscribers"]["records"] == 1

    text_case = tmp_path / "text-case"
    result = invoke(
        "search",
        "--sources",
        str(sources),
        "--email",
        "jan.devries@example.nl",
        "--case",
        str(text_case),
    )
    assert result.exit_code == 1
    assert "INCOMPLETE (billing)" in " ".join(result.stdout.split())
    assert "Traceback" not in result.output


# -- bad input: exit 2, a clear message, no traceback ---------------------------------


def test_no_identifiers(estate: Path, tmp_path: Path) -> None:
    bad_input(
        invoke("search", "--sources", str(estate), "--case", str(tmp_path / "c")),
        "command line: identifiers: give at least one identifier (--email, --phone …) "
        "or --request FILE",
    )


def test_invalid_identifier_on_the_command_line(estate: Path, tmp_path: Path) -> None:
    result = invoke(
        "search",
        "--sources",
        str(estate),
        "--imei",
        "352099001761480",
        "--case",
        str(tmp_path / "c"),
    )
    bad_input(
        result,
        "command line: identifiers: no usable identifier (--imei: IMEI 352099001761480: "
        "check digit should be 1)",
    )
    assert not (tmp_path / "c").exists()


def test_a_malformed_identifier_beside_a_good_one_is_rejected_and_named(
    estate: Path, tmp_path: Path
) -> None:
    """The e-mail is searched; the mistyped phone is named in case, summary and console."""
    args = ["search", "--sources", str(estate), "--email", "jan.devries@example.nl"]
    result = invoke(*args, "--phone", "06-123 45", "--case", str(tmp_path / "c"))
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert "rejected --phone: phone number 06-123 45: not a valid phone number (region NL)" in out
    assert "INCOMPLETE (identifiers rejected)" in out
    summary = json.loads((tmp_path / "c" / "summary.json").read_text("utf-8"))
    assert summary["complete"] is False
    assert summary["rejected_identifiers"] == [
        {
            "type": "phone",
            "value": "06-123 45",
            "reason": "phone number 06-123 45: not a valid phone number (region NL)",
            "place": "--phone",
        }
    ]
    request = json.loads((tmp_path / "c" / "request.json").read_text("utf-8"))
    assert request["rejected_identifiers"][0]["place"] == "--phone"
    assert summary["totals"]["records"] >= 1  # the e-mail found its record
    # the package's cover names it too, and the export says the package is incomplete
    exported = invoke("export", str(tmp_path / "c"), "--kind", "access", "--format", "json,xlsx")
    assert exported.exit_code == 1, exported.output
    [document] = (tmp_path / "c" / "packages").glob("*/access.json")
    request_record = json.loads(document.read_text("utf-8"))["request"]
    assert request_record["complete"] is False
    assert request_record["identifiers_rejected"] == [
        {
            "type": "phone",
            "value": "06-123 45",
            "reason": "phone number 06-123 45: not a valid phone number (region NL)",
        }
    ]
    cover = openpyxl.load_workbook(document.with_suffix(".xlsx")).worksheets[0]
    cells = [str(c.value) for row in cover.iter_rows() for c in row if c.value is not None]
    assert any("phone: 06-123 45 (phone number 06-123 45" in cell for cell in cells)
    # the review listing names it too
    listing = invoke("review", str(tmp_path / "c"))
    assert "rejected --phone: phone number 06-123 45" in " ".join(listing.stdout.split())
    listed = json.loads(invoke("review", str(tmp_path / "c"), "--json").stdout)
    assert listed["rejected_identifiers"][0]["place"] == "--phone"
    # --strict keeps the old behaviour: the whole request is refused
    strict = invoke(*args, "--phone", "06-123 45", "--strict", "--case", str(tmp_path / "d"))
    bad_input(strict, "command line: --phone: phone number 06-123 45: not a valid phone number")
    assert not (tmp_path / "d").exists()


def test_an_invisible_character_in_an_option_is_refused_not_echoed(
    estate: Path, tmp_path: Path
) -> None:
    result = invoke(
        "search",
        "--sources",
        str(estate),
        "--email",
        "a@exa\u202emple.nl",
        "--case",
        str(tmp_path / "c"),
    )
    bad_input(result, "invisible character U+202E RIGHT-TO-LEFT OVERRIDE")
    assert "\u202e" not in result.output


def test_bad_request_id_on_the_command_line(estate: Path, tmp_path: Path) -> None:
    bad_input(
        invoke(
            "search",
            "--sources",
            str(estate),
            "--email",
            "a@example.nl",
            "--request-id",
            "../etc",
            "--case",
            str(tmp_path / "c"),
        ),
        "command line: --request-id: '../etc' is not a request id",
    )


def test_request_file_and_options_conflict(estate: Path, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        '{"version": 1, "identifiers": [{"type": "email", "value": "a@example.nl"}]}'
    )
    bad_input(
        invoke(
            "search",
            "--sources",
            str(estate),
            "--request",
            str(request),
            "--email",
            "b@example.nl",
            "--case",
            str(tmp_path / "c"),
        ),
        "give identifiers in the request file or as options, not both",
    )
    bad_input(
        invoke(
            "search",
            "--sources",
            str(estate),
            "--request",
            str(request),
            "--lang",
            "en",
            "--case",
            str(tmp_path / "c"),
        ),
        "the request file sets the request's details; leave out --lang",
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {"version": 1, "identifiers": [{"type": "imei", "value": "352099001761480"}]},
            "request.json: identifiers: no usable identifier (identifiers[0].value: IMEI "
            "352099001761480: check digit should be 1)",
        ),
        (
            {
                "version": 1,
                "note": [[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]],
                "identifiers": [{"type": "email", "value": "a@example.nl"}],
            },
            "request.json: line 1 column 43: nested deeper than 20 levels",
        ),
        (
            {
                "version": 1,
                "request_id": "REQ 1",
                "identifiers": [{"type": "email", "value": "a@example.nl"}],
            },
            "request.json: request_id: 'REQ 1' is not valid here: expected a request id",
        ),
        ({"version": 1, "identifiers": []}, "request.json: identifiers: [] should be non-empty"),
        ("{not json", "request.json: line 1 column 2: invalid JSON"),
    ],
)
def test_malformed_request_file(estate: Path, tmp_path: Path, content: Any, expected: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(
        content if isinstance(content, str) else json.dumps(content), encoding="utf-8"
    )
    bad_input(
        invoke(
            "search",
            "--sources",
            str(estate),
            "--request",
            str(request),
            "--case",
            str(tmp_path / "c"),
        ),
        expected,
    )


def test_missing_request_file(estate: Path, tmp_path: Path) -> None:
    bad_input(
        invoke(
            "search",
            "--sources",
            str(estate),
            "--request",
            str(tmp_path / "nope.json"),
            "--case",
            str(tmp_path / "c"),
        ),
        "nope.json: file not found",
    )


def _search(sources: Path, tmp_path: Path, env: dict[str, str] | None = None) -> Result:
    return invoke(
        "search",
        "--sources",
        str(sources),
        "--email",
        "a@example.nl",
        "--case",
        str(tmp_path / "c"),
        env=env,
    )


def test_sources_file_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\nsources:\n  - name: crm\n    kind: [sql\n", encoding="utf-8")
    bad_input(_search(path, tmp_path), "sources.yaml: line 5 column 1: invalid YAML")


def test_sources_wrong_version(estate: Path, tmp_path: Path) -> None:
    sources = write_sources(tmp_path, [sqlite_source()])
    sources.write_text(sources.read_text().replace("version: 1", "version: 2"))
    bad_input(_search(sources, tmp_path), "sources.yaml: version: expected 1, got 2")


def test_unset_variable(estate: Path, tmp_path: Path) -> None:
    source = {**sqlite_source(), "connection": {"url": "${SUBSCRIBERS_URL_NOT_SET}"}}
    sources = write_sources(tmp_path, [source])
    bad_input(
        _search(sources, tmp_path, env={"SUBSCRIBERS_URL_NOT_SET": None}),  # type: ignore[dict-item]
        "sources.yaml: sources[0].connection.url: "
        "environment variable SUBSCRIBERS_URL_NOT_SET is not set",
    )


def test_literal_password(estate: Path, tmp_path: Path) -> None:
    source = {**sqlite_source(), "connection": {"url": "postgresql://crm:hunter2@db/crm"}}
    text = bad_input(
        _search(write_sources(tmp_path, [source]), tmp_path),
        "sources.yaml: sources[0].connection.url: the URL holds a password",
    )
    assert "hunter2" not in text


def test_secrets_file_readable_by_others(estate: Path, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("SUBSCRIBERS_URL=sqlite:///subscribers.sqlite\n")
    secrets.chmod(0o644)
    source = {**sqlite_source(), "connection": {"url": "${SUBSCRIBERS_URL}"}}
    sources = write_sources(tmp_path, [source], secrets_file="secrets.env")
    bad_input(
        _search(sources, tmp_path),
        "sources.yaml: secrets_file:",
        "is readable by others",
        "chmod 600",
    )
    secrets.chmod(0o600)
    result = invoke(
        "search",
        "--sources",
        str(sources),
        "--email",
        "jan.devries@example.nl",
        "--case",
        str(tmp_path / "ok"),
    )
    assert result.exit_code == 0, result.output


def _mapping_with(estate: Path, change: Any) -> Path:
    mapping_path = estate.parent / "subscribers.yaml"
    document = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    change(document)
    mapping_path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return estate


def test_mapping_enum_error(estate: Path, tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["tables"]["subscribers"]["columns"]["phone"]["identifier"] = "fone"

    bad_input(
        _search(_mapping_with(estate, change), tmp_path),
        "subscribers.yaml: tables.subscribers.columns.phone.identifier: "
        "'fone' is not one of ['email', 'phone',",
    )
    assert not (tmp_path / "c").exists()  # nothing searched, nothing written


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d.update(kind="oracle"),
            "subscribers.yaml: kind: this source is of kind 'sql', the mapping is 'oracle'",
        ),
        (
            lambda d: d["tables"]["subscribers"].update(category="general.contacts"),
            "subscribers.yaml: tables.subscribers.category: "
            "'general.contacts' is not a register category",
        ),
        (
            lambda d: d["tables"]["subscribers"].update(key="subscriber_id"),
            "subscribers.yaml: tables.subscribers.key: "
            "key column 'subscriber_id' is not among the mapped columns",
        ),
        (
            lambda d: d.update(
                relations=[
                    {"from": "orders.subscriber_id", "to": "subscribers.id", "follow": "backward"}
                ]
            ),
            "subscribers.yaml: relations[0].from: table 'orders' is not mapped",
        ),
        (
            lambda d: d.update(version=2),
            "subscribers.yaml: version: expected 1 (mapping format v1), got 2",
        ),
    ],
)
def test_malformed_mapping(estate: Path, tmp_path: Path, change: Any, expected: str) -> None:
    bad_input(_search(_mapping_with(estate, change), tmp_path), expected)


def test_click_usage_errors_are_exit_2(tmp_path: Path) -> None:
    result = invoke("search", "--email", "a@example.nl", "--case", str(tmp_path / "c"))
    assert result.exit_code == 2
    assert "Missing option '--sources'" in result.stderr
    result = invoke(
        "search",
        "--sources",
        "x.yaml",
        "--email",
        "a@example.nl",
        "--case",
        str(tmp_path / "c"),
        "--kind",
        "erasure",
    )
    assert result.exit_code == 2
    assert "Invalid value for '--kind'" in result.stderr


def test_each_mapping_loads_once(
    estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.registry

    loaded: list[Path] = []
    real = connectors.registry.load_mapping

    def counting(path: Path, *args: Any, **kwargs: Any) -> Any:
        loaded.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(connectors.registry, "load_mapping", counting)
    monkeypatch.setattr("discover.engine.load_mapping", counting)
    sources = write_sources(estate.parent, [sqlite_source("one"), sqlite_source("two")])
    assert _search(sources, tmp_path).exit_code == 0
    assert [p.name for p in loaded] == ["subscribers.yaml", "subscribers.yaml"]


def test_console_script_bad_mapping_has_no_traceback(estate: Path, tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["tables"]["subscribers"]["columns"]["phone"]["identifier"] = "fone"

    sources = _mapping_with(estate, change)
    script = Path(sys.executable).with_name("discover")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from discover.cli import main; main()"]
    )
    outcome = subprocess.run(
        [
            *command,
            "search",
            "--sources",
            str(sources),
            "--email",
            "a@example.nl",
            "--case",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert outcome.returncode == 2
    assert "Traceback" not in outcome.stderr
    assert (
        "error: subscribers.yaml: tables.subscribers.columns.phone.identifier: 'fone' is not one of"
        in outcome.stderr
    )
    assert outcome.stdout == ""


def test_stopped_identifiers_in_summary_console_and_review(tmp_path: Path) -> None:
    """A colleague's row holds the firm's switchboard: stopped, and every view says why."""
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.executescript(
            "CREATE TABLE orgs (id INTEGER PRIMARY KEY, switchboard TEXT);"
            "INSERT INTO orgs VALUES (1, '010-234 5678');"
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT);"
            "INSERT INTO contacts VALUES (1, 'Ann Smit', 'ann@acme.nl', '010-2345678'),"
            " (2, 'Bob Visser', 'bob@acme.nl', '+31 10 234 5678');"
        )
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "orgs": {
                "key": "id",
                "category": "general.billing",
                "entity": "organisation",
                "columns": {"id": {}, "switchboard": {"identifier": "phone"}},
            },
            "contacts": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": {},
                    "name": {"identifier": "name"},
                    "email": {"identifier": "email"},
                    "phone": {"identifier": "phone"},
                },
            },
        },
    }
    (tmp_path / "crm.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    sources = write_sources(
        tmp_path,
        [
            {
                "name": "crm",
                "kind": "sql",
                "mapping": "crm.yaml",
                "connection": {"url": "sqlite:///crm.sqlite"},
            }
        ],
    )
    case = tmp_path / "case"
    result = invoke(
        "search", "--sources", str(sources), "--email", "ann@acme.nl", "--case", str(case)
    )
    assert result.exit_code == 0, result.output
    reason = "held by the organisation record crm:orgs[id=1]"
    assert f"stopped phone:+31102345678 (organisation): {reason}" in " ".join(result.stdout.split())
    summary = json.loads((case / "summary.json").read_text("utf-8"))
    assert summary["stopped_identifiers"] == [
        {"identifier": "phone:+31102345678", "kind": "organisation", "reason": reason, "depth": 1}
    ]
    assert summary["totals"]["records"] == 1  # Bob's row is not Ann's
    listing = invoke("review", str(case))
    assert f"stopped phone:+31102345678 (organisation): {reason}" in " ".join(
        listing.stdout.split()
    )
