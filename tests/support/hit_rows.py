"""One row of a hits table, written out whole, for tests that build a case by hand.

A test names what its row is about (the source, the field, the value, how it matched);
the rest is an exact match of a client-controlled, portable record, observed when the
synthetic case was (:mod:`support.synthetic_case`).
"""

from __future__ import annotations

from typing import Any

from support.synthetic_case import NOW


def hit_row(**fields: Any) -> dict[str, Any]:
    """A hit row: ``fields`` over the defaults of an exact, portable client record."""
    row: dict[str, Any] = {
        "request_id": "REQ-SYNTH-0001",
        "value_type": "text",
        "match": "exact",
        "observed_at": NOW,
        "recorded_at": None,
        "overdue": False,
        "controller": "client",
        "legal_basis": "contract",
        "portable": True,
        "secret": False,
        "third_party": False,
    }
    row.update(fields)
    return row
