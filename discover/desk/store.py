"""The request register: requests, deadlines, verification, links, users.

One :class:`Desk` per data directory. The store is SQLite (``DATA/desk.sqlite``) unless
a database URL is given (PostgreSQL for a team); Alembic brings either to the current
schema when the desk opens. Every change is recorded in the audit log in the same
transaction, so a change without its record never commits.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from discover.deadlines import MAX_EXTENSION_MONTHS, add_months, first_deadline, urgency
from discover.desk import audit
from discover.desk.location import (
    DB_ENV,
    STORE_FILE,
    data_dir,
    desk_configured,
)
from discover.desk.schema import (
    KINDS,
    ROLES,
    SEARCH_KINDS,
    STATUSES,
    VERIFICATION_METHODS,
    request_links,
    requests,
    settings,
    users,
)
from discover.errors import InputError
from discover.files import FILE_MODE, private_dir
from discover.identifiers import Identifier
from discover.request import Request, request_from_document

SOURCES_FILE = "sources.yaml"
CASES_DIR = "cases"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DeskError(InputError):
    """A register operation that cannot be done as asked (unknown request, second extension)."""


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A registered request as the register keeps it."""

    request_id: str
    kind: str
    received: date
    deadline: date
    first_deadline: date
    extension_months: int | None
    extension_reason: str | None
    extension_told: date | None
    status: str
    verified_method: str | None
    verified_by: str | None
    verified_at: str | None
    document: dict[str, Any]
    created_at: str
    updated_at: str

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    def urgency(self, today: date | None = None) -> str:
        return urgency(self.deadline, today or date.today(), closed=self.closed)

    @property
    def extension(self) -> dict[str, Any] | None:
        """The Art. 12(3) extension as a package carries it (months, reason), if any."""
        if not self.extension_months:
            return None
        return {"months": self.extension_months, "reason": self.extension_reason or ""}

    @property
    def searchable(self) -> bool:
        return self.kind in SEARCH_KINDS

    def search_request(self) -> Request:
        """The request as the engine takes it (identifiers normalised again)."""
        return request_from_document(self.document, file=f"register {self.request_id}")

    def to_document(self, *, with_identifiers: bool = False) -> dict[str, Any]:
        """The register's view; identifiers only when asked (``requests show``)."""
        document: dict[str, Any] = {
            "request_id": self.request_id,
            "kind": self.kind,
            "received": self.received.isoformat(),
            "status": self.status,
            "deadline": self.deadline.isoformat(),
            "first_deadline": self.first_deadline.isoformat(),
            "urgency": self.urgency(),
            "extension": (
                {
                    "months": self.extension_months,
                    "reason": self.extension_reason,
                    "subject_told": self.extension_told.isoformat()
                    if self.extension_told
                    else None,
                }
                if self.extension_months
                else None
            ),
            "verification": (
                {
                    "method": self.verified_method,
                    "by": self.verified_by,
                    "at": self.verified_at,
                }
                if self.verified_method
                else None
            ),
        }
        if with_identifiers:
            document["identifiers"] = self.document.get("identifiers", [])
            for key in ("language", "client", "subject_name"):
                if self.document.get(key):
                    document[key] = self.document[key]
        return document


def _record(row: sa.Row[Any]) -> RequestRecord:
    return RequestRecord(
        request_id=row.request_id,
        kind=row.kind,
        received=row.received,
        deadline=row.deadline,
        first_deadline=row.first_deadline,
        extension_months=row.extension_months,
        extension_reason=row.extension_reason,
        extension_told=row.extension_told,
        status=row.status,
        verified_method=row.verified_method,
        verified_by=row.verified_by,
        verified_at=row.verified_at,
        document=json.loads(row.document),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Link:
    kind: str
    path: str
    created_at: str


def _upgrade(engine: sa.Engine) -> None:
    """Bring the store to the current schema (Alembic, run in-process)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Desk:
    """The register of one data directory (or one database URL)."""

    def __init__(self, data: Path, engine: sa.Engine) -> None:
        self.data = data
        self.engine = engine

    @classmethod
    def open(
        cls, data: Path | None = None, *, url: str | None = None, use_env: bool = True
    ) -> Desk:
        """Open (and create or migrate) the store of ``data``.

        ``url`` (or ``$DISCOVER_DESK_DB`` unless ``use_env`` is off) selects a database
        server instead of the SQLite file in the data directory.
        """
        root = data_dir(data)
        url = url or (os.environ.get(DB_ENV) if use_env else None) or None
        if url is None:
            if root.exists() and not root.is_dir():
                raise DeskError(f"{root}: the data directory is a file")
            private_dir(root)
            path = root / STORE_FILE
            path.touch(mode=FILE_MODE, exist_ok=True)
            path.chmod(FILE_MODE)
            url = f"sqlite:///{path}"
        try:
            engine = sa.create_engine(url, future=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise DeskError(f"database URL: {exc}") from None
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            sa.event.listen(engine, "begin", _sqlite_begin)
        try:
            _upgrade(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise DeskError(f"the register's database cannot be opened: {exc.orig}") from None
        return cls(root, engine)

    @classmethod
    def opened(cls, data: Path | None = None, *, url: str | None = None) -> Desk:
        """The desk of a register that must exist already (for commands that only read)."""
        root = data_dir(data)
        if not (url or os.environ.get(DB_ENV)) and not (root / STORE_FILE).is_file():
            raise DeskError(
                f"{root}: no register here ({STORE_FILE} is missing); pass --data DIR or "
                "set DISCOVER_DATA, or start one with `discover requests add` or "
                "`discover demo --out DIR`"
            )
        return cls.open(root, url=url)

    @classmethod
    def existing(cls, data: Path | None = None) -> Desk | None:
        """The desk if one is set up (a database URL, or a store in the data directory)."""
        if desk_configured(data):
            return cls.open(data_dir(data))
        return None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Desk:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- paths ------------------------------------------------------------------------
    @property
    def sources_file(self) -> Path:
        return self.data / SOURCES_FILE

    def case_dir(self, request_id: str) -> Path:
        return self.data / CASES_DIR / request_id

    # -- audit ------------------------------------------------------------------------
    def _audit_key(self, connection: sa.Connection) -> bytes:
        row = connection.execute(
            sa.select(settings.c.value).where(settings.c.key == "audit_key")
        ).first()
        if row:
            return bytes.fromhex(row.value)
        key = secrets.token_bytes(32)
        connection.execute(settings.insert().values(key="audit_key", value=key.hex()))
        return key

    def audit(
        self,
        actor: str,
        action: str,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record an action that changes nothing else (a download, a login)."""
        with self.engine.begin() as connection:
            audit.append(
                connection, actor=actor, action=action, request_id=request_id, detail=detail
            )

    def audit_entries(
        self, *, request_id: str | None = None, limit: int | None = None
    ) -> list[audit.AuditEntry]:
        with self.engine.connect() as connection:
            return list(audit.entries(connection, request_id=request_id, limit=limit))

    def verify_audit(self) -> audit.Verification:
        with self.engine.connect() as connection:
            return audit.verify(connection)

    # -- requests ---------------------------------------------------------------------
    def add_request(self, request: Request, *, kind: str, actor: str) -> RequestRecord:
        """Register a request; its deadline is one month after receipt."""
        if kind not in KINDS:
            raise DeskError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
        document = request.to_document()
        document["kind"] = kind if kind in SEARCH_KINDS else "access"
        deadline = first_deadline(request.received)
        stamp = now_text()
        with self.engine.begin() as connection:
            exists = connection.execute(
                sa.select(requests.c.request_id).where(requests.c.request_id == request.request_id)
            ).first()
            if exists:
                raise DeskError(f"request {request.request_id} is already registered")
            connection.execute(
                requests.insert().values(
                    request_id=request.request_id,
                    kind=kind,
                    received=request.received,
                    deadline=deadline,
                    first_deadline=deadline,
                    status="received",
                    document=json.dumps(document, ensure_ascii=False),
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            key = self._audit_key(connection)
            audit.append(
                connection,
                actor=actor,
                action="registered",
                request_id=request.request_id,
                detail={
                    "kind": kind,
                    "received": request.received.isoformat(),
                    "deadline": deadline.isoformat(),
                    "identifiers": [_fingerprint(key, i) for i in request.identifiers],
                },
            )
        return self.get(request.request_id)

    def get(self, request_id: str) -> RequestRecord:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(requests).where(requests.c.request_id == request_id)
            ).first()
        if row is None:
            raise DeskError(
                f"request {request_id!r} is not registered (see `discover requests list`)"
            )
        return _record(row)

    def find(self, request_id: str) -> RequestRecord | None:
        try:
            return self.get(request_id)
        except DeskError:
            return None

    def listing(
        self, *, due_within: int | None = None, today: date | None = None
    ) -> list[RequestRecord]:
        """Requests by deadline; ``due_within``: open ones due within that many days or overdue."""
        query = sa.select(requests).order_by(requests.c.deadline, requests.c.request_id)
        if due_within is not None:
            limit = (today or date.today()).toordinal() + due_within
            query = query.where(
                requests.c.status != "closed",
                requests.c.deadline <= date.fromordinal(limit),
            )
        with self.engine.connect() as connection:
            return [_record(row) for row in connection.execute(query)]

    def _update(
        self,
        connection: sa.Connection,
        request_id: str,
        values: dict[str, Any],
    ) -> None:
        connection.execute(
            requests.update()
            .where(requests.c.request_id == request_id)
            .values(**values, updated_at=now_text())
        )

    def _locked(self, connection: sa.Connection, request_id: str) -> RequestRecord:
        query = sa.select(requests).where(requests.c.request_id == request_id)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).first()
        if row is None:
            raise DeskError(
                f"request {request_id!r} is not registered (see `discover requests list`)"
            )
        return _record(row)

    def verify(self, request_id: str, *, method: str, by: str, actor: str) -> RequestRecord:
        """Record how the subject's identity was checked, by whom, and when."""
        if method not in VERIFICATION_METHODS:
            raise DeskError(
                f"verification method {method!r}: expected one of {', '.join(VERIFICATION_METHODS)}"
            )
        if not by.strip():
            raise DeskError("say who verified the identity (--by NAME)")
        at = now_text()
        with self.engine.begin() as connection:
            record = self._locked(connection, request_id)
            _open(record)
            values: dict[str, Any] = {
                "verified_method": method,
                "verified_by": by.strip(),
                "verified_at": at,
            }
            values.update(_advance(record, "verified"))
            self._update(connection, request_id, values)
            audit.append(
                connection,
                actor=actor,
                action="verified",
                request_id=request_id,
                detail={"method": method, "by": by.strip()},
            )
        return self.get(request_id)

    def extend(
        self,
        request_id: str,
        *,
        months: int,
        reason: str,
        told: date,
        actor: str,
    ) -> RequestRecord:
        """Extend the deadline once by 1 or 2 months, with the reason and when the subject knew."""
        if not 1 <= months <= MAX_EXTENSION_MONTHS:
            raise DeskError(
                f"--months {months}: a deadline is extended by 1 or {MAX_EXTENSION_MONTHS} months"
            )
        if not reason.strip():
            raise DeskError("an extension needs its reason (--reason TEXT)")
        with self.engine.begin() as connection:
            record = self._locked(connection, request_id)
            _open(record)
            if record.extension_months:
                raise DeskError(
                    f"request {request_id} was already extended on "
                    f"{record.updated_at[:10]}; a deadline is extended only once"
                )
            if told > record.first_deadline:
                raise DeskError(
                    f"--told {told}: the subject must be told within the first month "
                    f"(by {record.first_deadline})"
                )
            if told < record.received:
                raise DeskError(
                    f"--told {told}: before the request was received ({record.received})"
                )
            deadline = add_months(record.first_deadline, months)
            self._update(
                connection,
                request_id,
                {
                    "deadline": deadline,
                    "extension_months": months,
                    "extension_reason": reason.strip(),
                    "extension_told": told,
                },
            )
            audit.append(
                connection,
                actor=actor,
                action="extended",
                request_id=request_id,
                detail={
                    "months": months,
                    "deadline": deadline.isoformat(),
                    "subject_told": told.isoformat(),
                },
            )
        return self.get(request_id)

    def advance(
        self,
        request_id: str,
        status: str,
        *,
        actor: str,
        action: str,
        detail: dict[str, Any] | None = None,
        links: Sequence[tuple[str, Path]] = (),
    ) -> RequestRecord:
        """Record a step (searched, reviewed, exported, sent, closed) and move the status on.

        A status never moves backwards: a new search after an export is recorded but
        the request stays exported. A closed request stays closed.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        stamp = now_text()
        with self.engine.begin() as connection:
            record = self._locked(connection, request_id)
            self._update(connection, request_id, _advance(record, status))
            for kind, path in links:
                exists = connection.execute(
                    sa.select(request_links.c.id).where(
                        request_links.c.request_id == request_id,
                        request_links.c.kind == kind,
                        request_links.c.path == str(path),
                    )
                ).first()
                if not exists:
                    connection.execute(
                        request_links.insert().values(
                            request_id=request_id, kind=kind, path=str(path), created_at=stamp
                        )
                    )
            audit.append(
                connection, actor=actor, action=action, request_id=request_id, detail=detail
            )
        return self.get(request_id)

    def links(self, request_id: str, kind: str | None = None) -> list[Link]:
        query = (
            sa.select(request_links)
            .where(request_links.c.request_id == request_id)
            .order_by(request_links.c.id)
        )
        if kind is not None:
            query = query.where(request_links.c.kind == kind)
        with self.engine.connect() as connection:
            return [Link(r.kind, r.path, r.created_at) for r in connection.execute(query)]

    def identifier_fingerprints(self, identifiers: Sequence[Identifier]) -> list[str]:
        with self.engine.begin() as connection:
            key = self._audit_key(connection)
        return [_fingerprint(key, i) for i in identifiers]

    # -- users ------------------------------------------------------------------------
    def add_user(self, name: str, *, role: str, password: str, actor: str) -> None:
        from discover.desk.passwords import check_password, hash_password

        if role not in ROLES:
            raise DeskError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if not USER_NAME.fullmatch(name):
            raise DeskError(
                f"user name {name!r}: expected 1 to 80 letters, digits, '.', '_' or '-'"
            )
        check_password(password)
        with self.engine.begin() as connection:
            exists = connection.execute(sa.select(users.c.name).where(users.c.name == name)).first()
            values = {"role": role, "password_hash": hash_password(password)}
            if exists:
                connection.execute(users.update().where(users.c.name == name).values(**values))
            else:
                connection.execute(
                    users.insert().values(name=name, created_at=now_text(), **values)
                )
            audit.append(
                connection,
                actor=actor,
                action="user-added",
                detail={"user": name, "role": role, "replaced": bool(exists)},
            )

    def user(self, name: str) -> tuple[str, str] | None:
        """(role, password hash) of a user, None when there is no such user."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(users.c.role, users.c.password_hash).where(users.c.name == name)
            ).first()
        return (row.role, row.password_hash) if row else None

    def users(self) -> Iterator[tuple[str, str]]:
        with self.engine.connect() as connection:
            yield from connection.execute(
                sa.select(users.c.name, users.c.role).order_by(users.c.name)
            ).all()


USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def _fingerprint(key: bytes, identifier: Identifier) -> str:
    return audit.fingerprint(key, identifier.type, identifier.value)


def _open(record: RequestRecord) -> None:
    if record.closed:
        raise DeskError(f"request {record.request_id} is closed")


def _advance(record: RequestRecord, status: str) -> dict[str, Any]:
    if STATUSES.index(status) > STATUSES.index(record.status):
        return {"status": status}
    return {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's recipe: let it emit BEGIN itself (below) instead of the driver
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    """Take SQLite's write lock at the start, so that two writers queue instead of failing.

    The audit chain reads its head and appends after it; with a deferred transaction
    two writers could read the same head and the second would fail to upgrade its lock.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")
