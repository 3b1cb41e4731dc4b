"""The audit log: who did what, append-only and hash-chained.

Each entry carries the hash of the one before it and its own hash over its content,
so editing, reordering or deleting an entry breaks the chain; the head row (last
number and hash) also catches entries cut off the end. Entries name request ids,
staff and actions; identifiers of data subjects appear only as keyed hashes
(:func:`fingerprint`), never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from discover.desk.schema import audit_head, audit_log

GENESIS = "0" * 64
#: the actions an entry can record
ACTIONS: tuple[str, ...] = (
    "registered",
    "verified",
    "extended",
    "searched",
    "reviewed",
    "exported",
    "downloaded",
    "sent",
    "closed",
    "user-added",
    "login",
    "login-failed",
    "logout",
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry as stored."""

    seq: int
    at: str
    actor: str
    action: str
    request_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def to_document(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "request_id": self.request_id,
            "detail": self.detail,
            "hash": self.hash,
        }


def fingerprint(key: bytes, kind: str, value: str) -> str:
    """A keyed hash of an identifier: equal for equal values, useless without the key."""
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:20]}"


def _canonical_detail(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    request_id: str | None,
    detail_text: str,
    prev_hash: str,
) -> str:
    """The SHA-256 of an entry's content and its predecessor's hash."""
    body = json.dumps(
        [seq, at, actor, action, request_id, detail_text, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    connection: sa.Connection,
    *,
    actor: str,
    action: str,
    request_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction (the change and its record commit together)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    query = sa.select(audit_head.c.seq, audit_head.c.hash)
    if connection.dialect.name != "sqlite":  # SQLite's writers are queued by BEGIN IMMEDIATE
        query = query.with_for_update()
    head = connection.execute(query).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    text = _canonical_detail(detail or {})
    digest = entry_hash(seq, at, actor, action, request_id, text, prev)
    connection.execute(
        audit_log.insert().values(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            request_id=request_id,
            detail=text,
            prev_hash=prev,
            hash=digest,
        )
    )
    if head:
        updated = connection.execute(
            audit_head.update()
            .where(audit_head.c.id == 1, audit_head.c.seq == head.seq)
            .values(seq=seq, hash=digest)
        )
        if updated.rowcount != 1:  # another writer got there first: its insert of seq wins
            raise sa.exc.IntegrityError("audit head moved", None, Exception("concurrent append"))
    else:
        connection.execute(audit_head.insert().values(id=1, seq=seq, hash=digest))
    return AuditEntry(seq, at, actor, action, request_id, dict(detail or {}), prev, digest)


def entries(
    connection: sa.Connection, *, request_id: str | None = None, limit: int | None = None
) -> Iterator[AuditEntry]:
    """Entries newest first (for reading), optionally of one request."""
    query = sa.select(audit_log).order_by(audit_log.c.seq.desc())
    if request_id is not None:
        query = query.where(audit_log.c.request_id == request_id)
    if limit is not None:
        query = query.limit(limit)
    for row in connection.execute(query):
        try:
            detail = json.loads(row.detail)
        except ValueError:
            detail = {"unreadable": True}
        yield AuditEntry(
            row.seq,
            row.at,
            row.actor,
            row.action,
            row.request_id,
            detail,
            row.prev_hash,
            row.hash,
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking the chain: ``problem`` names the first bad entry."""

    entries: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(connection: sa.Connection) -> Verification:
    """Walk the chain from the first entry; stop at the first that does not fit."""
    expected_seq, prev = 1, GENESIS
    count = 0
    for row in connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)):
        where = f"audit entry {row.seq} ({row.action}, {row.at})"
        if row.seq != expected_seq:
            return Verification(count, f"audit entry {expected_seq} is missing (deleted?)")
        if row.prev_hash != prev:
            return Verification(count, f"{where}: does not follow entry {row.seq - 1}")
        digest = entry_hash(
            row.seq, row.at, row.actor, row.action, row.request_id, row.detail, row.prev_hash
        )
        if not hmac.compare_digest(digest, row.hash):
            return Verification(count, f"{where}: its content does not match its hash (edited?)")
        expected_seq, prev = row.seq + 1, row.hash
        count += 1
    head = connection.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
    last = expected_seq - 1
    if head is None:
        if count:
            return Verification(count, "the audit head is missing")
        return Verification(0, None)
    if head.seq > last:
        return Verification(
            count, f"audit entries {last + 1} to {head.seq} are missing (cut off the end?)"
        )
    if head.seq != last or head.hash != prev:
        return Verification(count, f"the audit head does not match entry {last} (edited?)")
    return Verification(count, None)
