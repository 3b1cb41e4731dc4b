"""Review decisions: staff confirm or exclude records of a case before export.

Decisions live in the case's ``decisions.json``: ``decisions`` holds the current
decision per record (the latest wins), ``history`` every decision ever recorded, each
with the action, the reason, who decided and when. The file is rewritten atomically,
0600, under a lock so that two reviewers cannot lose each other's decisions. Exports
apply the current decisions and record which (in the package and in the case's
export log).

Records are listed in one stable order (source, location, record key) and numbered
from 1, so the number shown for a record stays the same while decisions are made; a
record can be named by that number or by ``source/location/record_key``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from discover.case import DECISIONS_FILE, Case
from discover.config import read_document, validate
from discover.errors import CaseError, ConfigError, InputError
from discover.files import FILE_MODE, write_json
from discover.policy import Decision, DecisionAction

DECISIONS_VERSION = 1
LOCK_FILE = ".decisions.lock"
#: how many field values a listing shows per record
PREVIEW_FIELDS = 6


def _read(case_path: Path) -> tuple[list[Decision], list[Decision]]:
    """Current decisions and history; CaseError names the file and the place when malformed."""
    path = case_path / DECISIONS_FILE
    if not path.exists():
        return [], []
    label = f"{case_path.name}/{DECISIONS_FILE}"
    try:
        document = read_document(path, label=label)
        validate(document, "case-decisions.schema.json", file=label)
    except ConfigError as exc:
        raise CaseError(str(exc)) from None
    return (
        [Decision(**entry) for entry in document["decisions"]],
        [Decision(**entry) for entry in document.get("history", [])],
    )


def load_decisions(case_path: Path) -> list[Decision]:
    """The current decisions of a case (none when it was not reviewed)."""
    return _read(case_path)[0]


def load_history(case_path: Path) -> list[Decision]:
    """Every decision ever recorded in a case, oldest first."""
    return _read(case_path)[1]


@contextlib.contextmanager
def _locked(case_path: Path) -> Iterator[None]:
    fd = os.open(case_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def record_decisions(case_path: Path, new: Sequence[Decision]) -> list[Decision]:
    """Add decisions to the case (atomically, under a lock); returns the current ones."""
    if not (case_path / DECISIONS_FILE).parent.is_dir():
        raise CaseError(f"{case_path}: no such case directory")
    with _locked(case_path):
        current, history = _read(case_path)
        by_ref = {d.ref: d for d in current}
        for decision in new:
            by_ref[decision.ref] = decision
            history.append(decision)
        current = sorted(by_ref.values(), key=lambda d: d.ref)
        write_json(
            case_path / DECISIONS_FILE,
            {
                "version": DECISIONS_VERSION,
                "decisions": [d.to_document() for d in current],
                "history": [d.to_document() for d in history],
            },
        )
    return current


def new_decision(
    ref: tuple[str, str, str], action: DecisionAction, *, reason: str, decided_by: str
) -> Decision:
    """A decision made now; the reason and the reviewer must be given."""
    if action not in ("confirm", "exclude"):
        raise InputError(f"decision {action!r}: expected confirm or exclude")
    if not reason.strip():
        raise InputError("a decision needs a reason (--reason)")
    if not decided_by.strip():
        raise InputError("a decision needs the reviewer's name (--by)")
    return Decision(
        source=ref[0],
        location=ref[1],
        record_key=ref[2],
        action=action,
        reason=reason.strip(),
        decided_by=decided_by.strip(),
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One record of a case as the review listing shows it."""

    index: int
    source: str
    location: str
    record_key: str
    match: str
    matched_on: str
    via: str
    overdue: bool
    categories: tuple[str, ...]
    preview: tuple[tuple[str, str], ...]
    decision: Decision | None

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.source, self.location, self.record_key)

    @property
    def ref_text(self) -> str:
        return f"{self.source}/{self.location}/{self.record_key}"

    @property
    def needs_decision(self) -> bool:
        """A possible match nobody has decided on yet."""
        return self.match == "possible" and self.decision is None

    @property
    def needs_attention(self) -> bool:
        """Shown by default: undecided possible matches and overdue records."""
        return self.needs_decision or self.overdue

    def to_document(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "ref": self.ref_text,
            "source": self.source,
            "location": self.location,
            "record_key": self.record_key,
            "match": self.match,
            "matched_on": self.matched_on,
            "via": self.via,
            "overdue": self.overdue,
            "categories": list(self.categories),
            "needs_decision": self.needs_decision,
            "preview": [{"field": f, "value": v} for f, v in self.preview],
            "decision": self.decision.to_document() if self.decision else None,
        }


def review_items(case: Case, decisions: Sequence[Decision] | None = None) -> list[ReviewItem]:
    """Every record of the case, numbered in a stable order, with its decision.

    The preview shows a few field values to help staff decide (secrets never: their
    value is not in the case).
    """
    if decisions is None:
        decisions = load_decisions(case.path)
    by_ref = {d.ref: d for d in decisions}
    frame = pl.from_arrow(
        case.hits.select(
            [
                "source",
                "location",
                "record_key",
                "field",
                "value",
                "category",
                "match",
                "matched_on",
                "via",
                "overdue",
                "secret",
            ]
        )
    )
    assert isinstance(frame, pl.DataFrame)
    shown = pl.when(~pl.col("secret") & pl.col("value").is_not_null())
    grouped = (
        frame.group_by(["source", "location", "record_key"], maintain_order=True)
        .agg(
            pl.col("match").first(),
            pl.col("matched_on").first(),
            pl.col("via").first(),
            pl.col("overdue").any(),
            pl.col("category").unique(maintain_order=True).alias("categories"),
            shown.then(pl.col("field")).drop_nulls().head(PREVIEW_FIELDS).alias("fields"),
            shown.then(pl.col("value")).drop_nulls().head(PREVIEW_FIELDS).alias("values"),
        )
        .sort(["source", "location", "record_key"])
    )
    items = []
    for index, row in enumerate(grouped.iter_rows(named=True), start=1):
        ref = (row["source"], row["location"], row["record_key"])
        items.append(
            ReviewItem(
                index=index,
                source=ref[0],
                location=ref[1],
                record_key=ref[2],
                match=row["match"],
                matched_on=row["matched_on"],
                via=row["via"],
                overdue=bool(row["overdue"]),
                categories=tuple(row["categories"]),
                preview=tuple(zip(row["fields"], row["values"], strict=False)),
                decision=by_ref.get(ref),
            )
        )
    return items


_LISTING_NUMBER = re.compile(r"[0-9]+")


def resolve_ref(items: Sequence[ReviewItem], text: str) -> ReviewItem:
    """The record named by a listing number (``7``) or ``source/location/record_key``.

    Only ASCII digits make a number: ``#7`` or a full-width ``７`` is refused rather
    than guessed at, so that what staff typed is what gets decided.
    """
    wanted = text.strip()
    if _LISTING_NUMBER.fullmatch(wanted):
        index = int(wanted)
        if 1 <= index <= len(items):
            return items[index - 1]
        raise InputError(f"record {index}: the case has records 1 to {len(items)}")
    for item in items:
        if item.ref_text == wanted:
            return item
    raise InputError(
        f"record {wanted!r}: not a listing number (digits 0-9) or a record of the case; use a "
        "number from the listing or source/location/record_key as `discover review CASE --all` "
        "shows it"
    )
