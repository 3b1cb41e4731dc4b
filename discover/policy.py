"""Policy: which hits go into a package, and in what form.

Applied between the case and every exporter, so that no format can forget a rule:

* secrets (passwords, PINs, PUK codes, codewords) never leave as values: the value is
  dropped here even if a connector wrongly put one in the hits, and the package lists
  the field as withheld for security and says how to ask for it;
* other people's data is redacted (Art. 15(4)): the field is listed, its value is not;
  a record whose every field is another person's is left out and counted;
* except for categories the register marks ``portable_third_party`` (the contacts
  in the subject's own phonebook): data the subject keeps about others for their own
  use goes along with its values (WP242 rev.01, 2.2: the receiving service may use it
  for the subject's own purposes only);
* "possible" hits (matched on a name alone) are left out unless staff confirmed them;
* staff decisions recorded by ``discover review`` exclude or confirm records;
* a portability package holds only categories processed on consent or contract
  (the register's ``portable`` flag, re-checked against the legal basis here);
* ``controller`` limits a package to the provider's or the client's part;
* a portability package leaves out fields the provider derived or its systems set
  (origin ``derived`` / ``system``: WP242 rev.01, 2.1 covers data the subject provided
  or that was observed from their use) and records of organisations (not a person's);
* other people's phone numbers in categories the register marks with
  ``third_party_mask`` (the other party of the subject's own calls) are shown as on
  a Dutch itemised bill, the last digits masked, instead of left out;
* the contacts in the subject's own phonebook (``portable_third_party``) are part of
  the full copy in an access package too, and are carried along in a portability one.

Overdue records (older than their retention period) are *included*: Art. 15 covers
every record processed when the request is answered, and deleting or hiding data
after a request arrived is not allowed. Their overdue flag is for staff (``discover
review``, the case summary, the export's console message), never in the package.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from discover.identifiers import try_normalise

PackageKind = Literal["access", "portability"]
ControllerScope = Literal["provider", "client", "all"]
DecisionAction = Literal["confirm", "exclude"]
PORTABLE_BASES: tuple[str, ...] = ("consent", "contract")
#: field origins a portability package carries (WP242 rev.01, 2.1)
PORTABLE_ORIGINS: tuple[str, ...] = ("provided", "observed")
MASK_CHAR = "x"
#: separates the parts of a record reference in vectorised keys; never in a name.
_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class Decision:
    """A reviewer's decision on one record of a case."""

    source: str
    location: str
    record_key: str
    action: DecisionAction
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
    """The outcome of the policy: what goes in, and an account of what does not.

    ``hits`` keeps the hits schema; values of withheld and redacted fields are null.
    ``decisions_applied`` are the decisions that matched a record of the case;
    ``decisions_unmatched`` refer to records the case does not hold (stale).
    ``overdue_records`` (included records past their retention) and ``pending_review``
    (possible records nobody decided on) are for staff, not for the package.
    ``own_use`` lists the fields of other people a portability package carries because
    the subject keeps them for their own use (their phonebook contacts).
    """

    hits: pa.Table
    withheld: list[dict[str, str]] = field(default_factory=list)
    redacted: list[dict[str, str]] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    decisions_applied: list[dict[str, Any]] = field(default_factory=list)
    decisions_unmatched: list[dict[str, Any]] = field(default_factory=list)
    overdue_records: int = 0
    pending_review: int = 0
    own_use: list[dict[str, str]] = field(default_factory=list)
    masked: list[dict[str, str]] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Number of distinct records included."""
        if self.hits.num_rows == 0:
            return 0
        return len(pc.unique(ref_keys(self.hits)))


def ref_keys(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """One string per row identifying its record (source, location, record_key)."""
    return pc.binary_join_element_wise(
        table.column("source"), table.column("location"), table.column("record_key"), _SEP
    )


def ref_key(ref: tuple[str, str, str]) -> str:
    """The same key as :func:`ref_keys` for one record reference."""
    return _SEP.join(ref)


def _field_refs(table: pa.Table, *, secret: bool = False) -> list[dict[str, str]]:
    columns = [table.column(n).to_pylist() for n in ("source", "location", "record_key")]
    columns += [table.column(n).to_pylist() for n in ("field", "category")]
    refs = [
        {"source": s, "location": loc, "record_key": key, "field": name, "category": category}
        for s, loc, key, name, category in zip(*columns, strict=True)
    ]
    if secret:  # which kind: the subject's own credential, or the network's
        for ref, kind in zip(refs, table.column("secret_kind").to_pylist(), strict=True):
            ref["secret"] = kind or "system"
    return refs


def mask_phone(value: str | None, digits: int) -> str | None:
    """A phone number as on an itemised bill: E.164 with its last ``digits`` masked."""
    if value is None:
        return None
    number = try_normalise("phone", value) or value
    kept = len(number) - digits
    if kept < 4:  # too short to show any part: an extension, a service number
        return MASK_CHAR * len(number)
    return number[:kept] + MASK_CHAR * digits


def select_hits(
    hits: pa.Table,
    *,
    kind: PackageKind,
    controller: ControllerScope = "all",
    decisions: Sequence[Decision] = (),
    own_use_categories: Collection[str] = (),
    masked_categories: Mapping[str, int] | None = None,
) -> Selection:
    """Apply the package policy to a case's hits (see the module docstring).

    ``own_use_categories``: the register's ``portable_third_party`` categories
    (:meth:`Register.own_use_categories`); ``masked_categories``: category id ->
    digits to mask of other people's phone numbers (:meth:`Register.masked_categories`).
    """
    left_out: dict[str, int] = {}
    hits = hits.combine_chunks()
    own_use = pa.repeat(pa.scalar(False), hits.num_rows)
    if own_use_categories and hits.num_rows:
        # The subject's own contact list: not other people's data *for this package*.
        categories = pa.array(sorted(own_use_categories), pa.string())
        own_use = pc.and_(
            hits.column("third_party"), pc.is_in(hits.column("category"), value_set=categories)
        )
        third_party = pc.and_(hits.column("third_party"), pc.invert(own_use))
        hits = hits.set_column(
            hits.schema.get_field_index("third_party"), "third_party", third_party
        )
    keys = ref_keys(hits)
    keep = pc.fill_null(pa.nulls(hits.num_rows, pa.bool_()), True)

    def drop(mask: pa.Array | pa.ChunkedArray, reason: str) -> None:
        # Every rule sees only the rows no earlier rule dropped; the table is filtered
        # once at the end (filtering a wide table is the expensive step).
        nonlocal keep
        mask = pc.and_(pc.fill_null(mask, False), keep)
        count = pc.sum(pc.cast(mask, pa.int64())).as_py() or 0
        if count:
            left_out[reason] = left_out.get(reason, 0) + count
            keep = pc.and_(keep, pc.invert(mask))

    latest: dict[tuple[str, str, str], Decision] = {}
    for decision in decisions:
        latest[decision.ref] = decision  # a later decision on the same record wins
    present = set(pc.unique(keys).to_pylist()) if latest else set()
    applied = [d.to_document() for d in latest.values() if ref_key(d.ref) in present]
    unmatched = [d.to_document() for d in latest.values() if ref_key(d.ref) not in present]
    excluded = [ref_key(r) for r, d in latest.items() if d.action == "exclude"]
    confirmed = [ref_key(r) for r, d in latest.items() if d.action == "confirm"]

    drop(pc.is_in(keys, value_set=pa.array(excluded, pa.string())), "excluded_by_review")
    is_confirmed = pc.is_in(keys, value_set=pa.array(confirmed, pa.string()))
    possible = pc.equal(hits.column("match"), "possible")
    pending = pc.and_(pc.and_(possible, pc.invert(is_confirmed)), keep)
    pending_records = len(pc.unique(keys.filter(pending)))
    drop(pending, "possible_unconfirmed")
    if kind == "portability":
        not_portable = pc.or_(
            pc.invert(hits.column("portable")),
            pc.invert(pc.is_in(hits.column("legal_basis"), value_set=pa.array(PORTABLE_BASES))),
        )
        drop(not_portable, "not_portable")
        origin = pc.fill_null(hits.column("origin"), "provided")
        drop(pc.invert(pc.is_in(origin, value_set=pa.array(PORTABLE_ORIGINS))), "derived_or_system")
        drop(
            pc.equal(pc.fill_null(hits.column("entity"), "person"), "organisation"),
            "organisation_record",
        )
    if controller != "all":
        drop(pc.not_equal(hits.column("controller"), controller), "other_controller")
    # A record holding nothing but other people's data is left out, with a count.
    own_keys = pc.unique(keys.filter(pc.and_(keep, pc.invert(hits.column("third_party")))))
    drop(pc.invert(pc.is_in(keys, value_set=own_keys)), "third_party_record")

    overdue = len(pc.unique(keys.filter(pc.and_(keep, hits.column("overdue")))))
    own_use_kept = pc.and_(own_use, pc.invert(hits.column("secret"))).filter(keep)
    hits = hits.filter(keep)
    own_use_fields = _field_refs(hits.filter(own_use_kept))
    secret = hits.column("secret")
    third = pc.and_(hits.column("third_party"), pc.invert(secret))
    values = hits.column("value")
    masked_fields: list[dict[str, str]] = []
    if masked_categories and hits.num_rows:
        # the other party of the subject's own calls: shown as on an itemised bill
        maskable = pc.and_(
            pc.and_(third, pc.equal(pc.fill_null(hits.column("identifier"), ""), "phone")),
            pc.is_in(hits.column("category"), value_set=pa.array(sorted(masked_categories))),
        )
        if pc.any(maskable).as_py():
            flags = maskable.to_pylist()
            digits = [masked_categories.get(c, 0) for c in hits.column("category").to_pylist()]
            shown = [
                mask_phone(v, d) if f else v
                for v, f, d in zip(values.to_pylist(), flags, digits, strict=True)
            ]
            masked_fields = _field_refs(hits.filter(maskable))
            values = pa.array(shown, pa.string())
            third = pc.and_(third, pc.invert(maskable))
            hits = hits.set_column(
                hits.schema.get_field_index("third_party"),
                "third_party",
                pc.and_(hits.column("third_party"), pc.invert(maskable)),
            )
    # another person's credential (the codeword of a fellow keyholder) is theirs, not
    # the subject's to ask for: it is redacted as other people's data, not offered
    others_secret = pc.and_(secret, hits.column("third_party"))
    withheld = _field_refs(hits.filter(pc.and_(secret, pc.invert(others_secret))), secret=True)
    redacted = _field_refs(hits.filter(pc.or_(third, others_secret)))
    hidden = pc.or_(secret, hits.column("third_party"))
    values = pc.if_else(hidden, pa.scalar(None, pa.string()), values)
    hits = hits.set_column(hits.schema.get_field_index("value"), "value", values)
    return Selection(
        hits=hits,
        withheld=withheld,
        redacted=redacted,
        left_out=left_out,
        decisions_applied=applied,
        decisions_unmatched=unmatched,
        overdue_records=overdue,
        pending_review=pending_records,
        own_use=own_use_fields,
        masked=masked_fields,
    )
