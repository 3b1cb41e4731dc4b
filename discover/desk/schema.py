"""The store's tables, as SQLAlchemy Core sees them.

The migrations (``discover/desk/migrations``) create exactly these tables; a test
checks that a migrated database and this metadata agree.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: The lifecycle of a request, in order; a request only moves forwards.
STATUSES: tuple[str, ...] = (
    "received",
    "verified",
    "searched",
    "reviewed",
    "exported",
    "sent",
    "closed",
)
#: Kinds the engine answers with a package; the others are recorded for follow-up.
SEARCH_KINDS: tuple[str, ...] = ("access", "portability")
FOLLOW_UP_KINDS: tuple[str, ...] = ("rectification", "erasure", "objection", "restriction")
KINDS: tuple[str, ...] = SEARCH_KINDS + FOLLOW_UP_KINDS
ROLES: tuple[str, ...] = ("officer", "viewer")
VERIFICATION_METHODS: tuple[str, ...] = (
    "id-document",
    "account-login",
    "known-contact",
    "phone-callback",
    "in-person",
    "other",
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("request_id", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("received", sa.Date, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("first_deadline", sa.Date, nullable=False),
    sa.Column("extension_months", sa.Integer, nullable=True),
    sa.Column("extension_reason", sa.Text, nullable=True),
    sa.Column("extension_told", sa.Date, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("verified_method", sa.String(32), nullable=True),
    sa.Column("verified_by", sa.String(120), nullable=True),
    sa.Column("verified_at", sa.String(40), nullable=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

request_links = sa.Table(
    "request_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "request_id",
        sa.String(80),
        sa.ForeignKey("requests.request_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("request_id", "kind", "path", name="uq_request_links"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("request_id", sa.String(80), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

#: One row: the last entry's number and hash, so that cutting entries off the end
#: of the log is noticed too.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
