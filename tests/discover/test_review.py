"""Review decisions: stored atomically and privately, latest wins, stable numbering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.synthetic_case import write_synthetic_case

from discover.case import DECISIONS_FILE, read_case
from discover.errors import CaseError, InputError
from discover.review import (
    load_decisions,
    load_history,
    new_decision,
    record_decisions,
    resolve_ref,
    review_items,
)


@pytest.fixture
def case(tmp_path: Path) -> Path:
    path = tmp_path / "case"
    write_synthetic_case(path, 400)
    return path


def test_decisions_are_stored_privately_with_history(case: Path) -> None:
    ref = ("crm", "contacts", "id=3")
    record_decisions(case, [new_decision(ref, "confirm", reason="called her", decided_by="A")])
    record_decisions(case, [new_decision(ref, "exclude", reason="wrong Jan", decided_by="B")])
    path = case / DECISIONS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    current = load_decisions(case)
    assert [(d.action, d.decided_by, d.reason) for d in current] == [("exclude", "B", "wrong Jan")]
    assert [d.action for d in load_history(case)] == ["confirm", "exclude"]
    document = json.loads(path.read_text())
    assert document["version"] == 1 and len(document["history"]) == 2
    assert not [p for p in case.iterdir() if p.name.endswith(".part")]


def test_a_decision_needs_a_reason_and_a_reviewer() -> None:
    with pytest.raises(InputError, match="reason"):
        new_decision(("a", "b", "c"), "confirm", reason=" ", decided_by="A")
    with pytest.raises(InputError, match="--by"):
        new_decision(("a", "b", "c"), "exclude", reason="x", decided_by="")
    with pytest.raises(InputError):
        new_decision(("a", "b", "c"), "maybe", reason="x", decided_by="A")  # type: ignore[arg-type]


def test_listing_numbers_are_stable_and_refs_resolve(case: Path) -> None:
    items = review_items(read_case(case))
    possible = [i for i in items if i.needs_decision]
    assert possible and all(i.match == "possible" for i in possible)
    assert any(i.overdue for i in items)
    target = possible[0]
    assert resolve_ref(items, str(target.index)) == target
    assert resolve_ref(items, f" {target.index} ") == target
    assert resolve_ref(items, target.ref_text) == target
    record_decisions(case, [new_decision(target.ref, "confirm", reason="r", decided_by="A")])
    after = review_items(read_case(case))
    assert [i.ref for i in after] == [i.ref for i in items]  # same numbers after deciding
    assert not after[target.index - 1].needs_decision
    with pytest.raises(InputError, match="records 1 to"):
        resolve_ref(items, "99999")
    for wrong in ("crm/contacts/id=nope", f"#{target.index}", "\uff13", "3.0", "-1", "+3"):
        with pytest.raises(InputError, match="not a listing number"):
            resolve_ref(items, wrong)


def test_preview_never_shows_secrets(tmp_path: Path) -> None:
    path = tmp_path / "case"
    write_synthetic_case(path, 400, leak_secrets=True)
    for item in review_items(read_case(path)):
        assert not any(v.startswith("S3CRET-") for _f, v in item.preview)


def test_a_broken_decisions_file_is_a_clear_error(case: Path) -> None:
    (case / DECISIONS_FILE).write_text('{"decisions": [{"source": "x"}]}')
    with pytest.raises(CaseError, match=r"decisions\[0\]"):
        load_decisions(case)
    (case / DECISIONS_FILE).write_text("[1, 2]")
    with pytest.raises(CaseError, match="decisions"):
        load_decisions(case)
