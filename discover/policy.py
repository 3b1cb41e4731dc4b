"""Policy: which hits go into a package, and in what form.

Applied between the case and every exporter, so that no format can forget a rule:

* secrets (passwords, PINs, PUK codes, codewords) never leave as values: the
  package lists the field as withheld for security and says how to ask for it;
* other people's data is redacted (Art. 15(4)): the field is listed, its value is not;
* "possible" hits (matched on a name alone) are left out unless staff confirmed them;
* staff decisions recorded by ``discover review`` exclude or confirm records;
* a portability package holds only categories processed on consent or contract;
* ``controller`` limits a package to the provider's or the client's part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

PackageKind = Literal["access", "portability"]
ControllerScope = Literal["provider", "client", "all"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A reviewer's decision on one record of a case."""

    source: str
    location: str
    record_key: str
    action: Literal["confirm", "exclude"]
    reason: str
    decided_by: str
    decided_at: str

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.source, self.location, self.record_key)

    def to_document(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "location": self.location,
            "record_key": self.record_key,
            "action": self.action,
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
        }


@dataclass(slots=True)
class Selection:
    """The outcome of the policy: what goes in, and an account of what does not."""

    hits: pa.Table
    withheld: list[dict[str, str]] = field(default_factory=list)
    redacted: list[dict[str, str]] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    decisions_applied: list[dict[str, Any]] = field(default_factory=list)


def _refs(table: pa.Table) -> list[tuple[str, str, str]]:
    return list(
        zip(
            table.column("source").to_pylist(),
            table.column("location").to_pylist(),
            table.column("record_key").to_pylist(),
            strict=True,
        )
    )


def _field_refs(table: pa.Table) -> list[dict[str, str]]:
    return [
        {"source": s, "location": loc, "record_key": key, "field": name, "category": category}
        for s, loc, key, name, category in zip(
            table.column("source").to_pylist(),
            table.column("location").to_pylist(),
            table.column("record_key").to_pylist(),
            table.column("field").to_pylist(),
            table.column("category").to_pylist(),
            strict=True,
        )
    ]


def select_hits(
    hits: pa.Table,
    *,
    kind: PackageKind,
    controller: ControllerScope = "all",
    decisions: list[Decision] | tuple[Decision, ...] = (),
) -> Selection:
    """Apply the package policy to a case's hits."""
    left_out: dict[str, int] = {}
    applied: list[dict[str, Any]] = []

    def drop(mask: pa.ChunkedArray | pa.Array, reason: str) -> None:
        nonlocal hits
        count = pc.sum(pc.cast(mask, pa.int64())).as_py() or 0
        if count:
            left_out[reason] = left_out.get(reason, 0) + count
            hits = hits.filter(pc.invert(mask))

    by_ref = {d.ref: d for d in decisions}
    if by_ref:
        refs = _refs(hits)
        excluded = pa.array(
            [by_ref.get(r) is not None and by_ref[r].action == "exclude" for r in refs]
        )
        confirmed = pa.array(
            [by_ref.get(r) is not None and by_ref[r].action == "confirm" for r in refs]
        )
        applied = [d.to_document() for d in decisions]
    else:
        excluded = pa.array([False] * hits.num_rows, pa.bool_())
        confirmed = excluded
    hits = hits.append_column("_excluded", excluded).append_column("_confirmed", confirmed)
    drop(hits.column("_excluded"), "excluded_by_review")
    unconfirmed = pc.and_(
        pc.equal(hits.column("match"), "possible"), pc.invert(hits.column("_confirmed"))
    )
    drop(unconfirmed, "possible_unconfirmed")
    hits = hits.drop_columns(["_excluded", "_confirmed"])
    if kind == "portability":
        drop(pc.invert(hits.column("portable")), "not_portable")
    if controller != "all":
        drop(pc.not_equal(hits.column("controller"), controller), "other_controller")

    secret = hits.column("secret")
    withheld = _field_refs(hits.filter(secret))
    third = pc.and_(hits.column("third_party"), pc.invert(secret))
    redacted = _field_refs(hits.filter(third))
    values = pc.if_else(
        hits.column("third_party"), pa.scalar(None, pa.string()), hits.column("value")
    )
    hits = hits.set_column(hits.schema.get_field_index("value"), "value", values)
    return Selection(
        hits=hits,
        withheld=withheld,
        redacted=redacted,
        left_out=left_out,
        decisions_applied=applied,
    )
