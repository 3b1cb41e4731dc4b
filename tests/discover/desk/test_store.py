"""The register against SQLite and the real PostgreSQL server (same schema, same results)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from discover.desk.intake import new_request
from discover.desk.schema import metadata
from discover.desk.store import Desk, DeskError
from discover.errors import ConfigError


@pytest.fixture(params=["sqlite", "postgres"])
def desk(request: pytest.FixtureRequest, tmp_path: Path):
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = Desk.open(tmp_path / "data", url=url, use_env=False)
    yield opened
    opened.close()


def _request(request_id: str = "REQ-1", received: date = date(2026, 1, 31)):
    return new_request(
        [("email", "Jan@Example.nl"), ("phone", "06-12345678")],
        request_id=request_id,
        kind="access",
        received=received,
    )


def test_migrations_create_the_tables_the_store_uses(desk: Desk) -> None:
    inspector = sa.inspect(desk.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == set(table.columns.keys()), table.name
    with desk.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def test_request_lifecycle_with_deadline_extension_and_audit(desk: Desk) -> None:
    record = desk.add_request(_request(), kind="access", actor="anna")
    assert (record.status, record.deadline) == ("received", date(2026, 2, 28))
    record = desk.verify("REQ-1", method="id-document", by="anna", actor="anna")
    assert record.status == "verified" and record.verified_by == "anna"
    record = desk.extend(
        "REQ-1", months=2, reason="many sources", told=date(2026, 2, 10), actor="anna"
    )
    assert record.deadline == date(2026, 4, 28) and record.first_deadline == date(2026, 2, 28)
    with pytest.raises(DeskError, match="only once"):
        desk.extend("REQ-1", months=1, reason="again", told=date(2026, 2, 11), actor="anna")
    record = desk.advance(
        "REQ-1", "exported", actor="anna", action="exported", links=[("package", Path("/p"))]
    )
    record = desk.advance("REQ-1", "searched", actor="anna", action="searched")
    assert record.status == "exported"  # never backwards
    assert [link.path for link in desk.links("REQ-1")] == ["/p"]
    desk.advance("REQ-1", "closed", actor="anna", action="closed")
    with pytest.raises(DeskError, match="closed"):
        desk.verify("REQ-1", method="other", by="anna", actor="anna")
    actions = [e.action for e in desk.audit_entries()]
    assert actions == ["closed", "searched", "exported", "extended", "verified", "registered"]
    assert desk.verify_audit().ok


def test_audit_holds_no_identifier_in_clear(desk: Desk) -> None:
    desk.add_request(_request(), kind="access", actor="anna")
    with desk.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM audit_log")).all()
    text = json.dumps([list(map(str, row)) for row in rows]).lower()
    for value in ("jan@example.nl", "612345678", "example"):
        assert value not in text
    detail = desk.audit_entries()[0].detail
    assert [f.split(":")[0] for f in detail["identifiers"]] == ["email", "phone"]


def test_an_edited_entry_is_named_by_verify(desk: Desk) -> None:
    desk.add_request(_request("REQ-1"), kind="access", actor="anna")
    desk.add_request(_request("REQ-2"), kind="erasure", actor="anna")
    desk.verify("REQ-2", method="in-person", by="bob", actor="bob")
    assert desk.verify_audit().ok
    with desk.engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    result = desk.verify_audit()
    assert not result.ok and result.problem.startswith("audit entry 2 ")
    assert result.entries == 1


def test_deleted_and_cut_off_entries_are_detected(desk: Desk) -> None:
    for n in range(1, 4):
        desk.add_request(_request(f"REQ-{n}"), kind="access", actor="anna")
    with desk.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    assert "3 to 3 are missing" in (desk.verify_audit().problem or "")
    with desk.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_log WHERE seq = 1"))
    assert desk.verify_audit().problem == "audit entry 1 is missing (deleted?)"


def test_due_within_lists_open_requests_due_soon_or_overdue(desk: Desk) -> None:
    today = date.today()
    desk.add_request(_request("OLD", today - timedelta(days=40)), kind="access", actor="a")
    desk.add_request(_request("SOON", today - timedelta(days=27)), kind="access", actor="a")
    desk.add_request(_request("NEW", today), kind="portability", actor="a")
    desk.add_request(_request("DONE", today - timedelta(days=60)), kind="access", actor="a")
    desk.advance("DONE", "closed", actor="a", action="closed")
    assert [r.request_id for r in desk.listing(due_within=7)] == ["OLD", "SOON"]
    assert {r.request_id: r.urgency() for r in desk.listing()} == {
        "DONE": "closed",
        "OLD": "overdue",
        "SOON": "due-soon",
        "NEW": "open",
    }


def test_bad_input_is_refused_with_the_field_named(desk: Desk) -> None:
    with pytest.raises(ConfigError, match=r"--phone: phone number"):
        new_request([("phone", "12")], request_id="R", kind="access", received=date(2026, 1, 1))
    with pytest.raises(ConfigError, match=r"--id: 'a/b' is not a request id"):
        new_request([("email", "a@b.nl")], request_id="a/b", kind="access", received=date.today())
    with pytest.raises(ConfigError, match="future"):
        new_request(
            [("email", "a@b.nl")],
            request_id="R",
            kind="access",
            received=date.today() + timedelta(days=1),
        )
    desk.add_request(_request(), kind="access", actor="a")
    with pytest.raises(DeskError, match="already registered"):
        desk.add_request(_request(), kind="access", actor="a")
    with pytest.raises(DeskError, match="1 or 2 months"):
        desk.extend("REQ-1", months=3, reason="x", told=date(2026, 2, 1), actor="a")
    with pytest.raises(DeskError, match="within the first month"):
        desk.extend("REQ-1", months=1, reason="x", told=date(2026, 3, 1), actor="a")
    with pytest.raises(DeskError, match="not registered"):
        desk.get("REQ-404")


def test_users_are_stored_with_argon2_hashes(desk: Desk) -> None:
    from discover.desk.passwords import password_matches

    desk.add_user("anna", role="officer", password="correct horse battery", actor="root")
    role, stored = desk.user("anna")
    assert role == "officer" and stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert password_matches(stored, "correct horse battery")
    assert not password_matches(stored, "wrong password!!")
    assert not password_matches(None, "correct horse battery")
    with pytest.raises(Exception, match="too short"):
        desk.add_user("bob", role="viewer", password="short", actor="root")


def test_concurrent_writers_keep_one_unbroken_chain(desk: Desk) -> None:
    from concurrent.futures import ThreadPoolExecutor

    desk.add_request(_request(), kind="access", actor="anna")

    def write(worker: int) -> None:
        for n in range(8):
            desk.audit(f"worker{worker}", "downloaded", "REQ-1", {"n": n})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    result = desk.verify_audit()
    assert result.ok, result.problem
    assert result.entries == 1 + 4 * 8


def test_reading_commands_need_an_existing_register(tmp_path: Path) -> None:
    with pytest.raises(DeskError, match="no register here"):
        Desk.opened(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
