"""Review decisions: staff confirm or exclude records of a case before export.

Decisions live in the case's ``decisions.json``, one entry per record with the
action, the reason, who decided and when. Exports apply them and record which.
"""

from __future__ import annotations

from pathlib import Path

from discover.case import DECISIONS_FILE
from discover.config import read_document
from discover.errors import CaseError, ConfigError
from discover.policy import Decision


def load_decisions(case_path: Path) -> list[Decision]:
    """The decisions recorded in a case (none when it was not reviewed)."""
    path = case_path / DECISIONS_FILE
    if not path.exists():
        return []
    try:
        document = read_document(path, label=f"{case_path.name}/{DECISIONS_FILE}")
    except ConfigError as exc:
        raise CaseError(str(exc)) from None
    entries = document.get("decisions") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CaseError(f"{path}: expected an object with a 'decisions' list")
    decisions = []
    for index, entry in enumerate(entries):
        try:
            decisions.append(Decision(**entry))
        except TypeError as exc:
            raise CaseError(f"{path}: decisions[{index}]: {exc}") from None
    return decisions
