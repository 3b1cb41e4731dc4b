"""A data-subject request: who asks, what for, and the identifiers to search with.

Requests come from a JSON file (validated against ``request.schema.json``) or from
the command line. Every identifier is normalised when the request is built, so a
typo is reported before any source is touched.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from discover.config import read_document, validate
from discover.errors import ConfigError, InvalidIdentifier
from discover.identifiers import Identifier

RequestKind = Literal["access", "portability"]
ControllerScope = Literal["provider", "client", "all"]
REQUEST_VERSION = 1


#: the request.schema.json pattern: the id names case and package directories, so it
#: never holds a path separator
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")


def check_request_id(request_id: str, *, file: str, where: str) -> None:
    """Raise ConfigError unless ``request_id`` is a safe request id."""
    if not REQUEST_ID.fullmatch(request_id):
        raise ConfigError(
            file,
            where,
            f"{request_id!r} is not a request id: expected letters, digits, '_', '.' and '-', "
            "starting with a letter or digit, at most 80 characters (e.g. REQ-2026-0001)",
        )


def new_request_id(today: date | None = None) -> str:
    """A fresh, unguessable request id such as ``REQ-20261128-3f9a1c``."""
    today = today or datetime.now(UTC).date()
    return f"REQ-{today:%Y%m%d}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Request:
    """One subject's request with normalised identifiers."""

    request_id: str
    identifiers: tuple[Identifier, ...]
    kind: RequestKind = "access"
    received: date = field(default_factory=lambda: datetime.now(UTC).date())
    language: Literal["nl", "en"] = "nl"
    controller: ControllerScope = "all"
    client: str | None = None
    subject_name: str | None = None
    note: str | None = None
    raw_identifiers: tuple[tuple[str, str], ...] = ()

    def to_document(self) -> dict[str, Any]:
        """The request as written to a case's request.json (schema-valid)."""
        document: dict[str, Any] = {
            "version": REQUEST_VERSION,
            "request_id": self.request_id,
            "kind": self.kind,
            "received": self.received.isoformat(),
            "language": self.language,
            "controller": self.controller,
            "identifiers": [
                {"type": kind, "value": value}
                for kind, value in (
                    self.raw_identifiers or [(i.type, i.value) for i in self.identifiers]
                )
            ],
        }
        for key in ("client", "subject_name", "note"):
            if getattr(self, key):
                document[key] = getattr(self, key)
        return document


def build_request(
    identifiers: list[tuple[str, str]],
    *,
    request_id: str | None = None,
    kind: RequestKind = "access",
    received: date | None = None,
    language: Literal["nl", "en"] = "nl",
    controller: ControllerScope = "all",
    client: str | None = None,
    subject_name: str | None = None,
    note: str | None = None,
) -> Request:
    """A request from (type, raw value) pairs; InvalidIdentifier on a bad value."""
    if not identifiers:
        raise ConfigError("request", "identifiers", "at least one identifier is needed")
    if request_id is not None:
        check_request_id(request_id, file="request", where="request_id")
    normalised = tuple(dict.fromkeys(Identifier.parse(kind_, raw) for kind_, raw in identifiers))
    return Request(
        request_id=request_id or new_request_id(received),
        identifiers=normalised,
        kind=kind,
        received=received or datetime.now(UTC).date(),
        language=language,
        controller=controller,
        client=client,
        subject_name=subject_name,
        note=note,
        raw_identifiers=tuple(identifiers),
    )


def request_from_document(document: Any, *, file: str) -> Request:
    """Validate a request document and build the Request; errors name the file and place."""
    validate(document, "request.schema.json", file=file)
    pairs = [(item["type"], item["value"]) for item in document["identifiers"]]
    for index, (kind, raw) in enumerate(pairs):
        try:
            Identifier.parse(kind, raw)
        except InvalidIdentifier as exc:
            raise ConfigError(file, f"identifiers[{index}].value", str(exc)) from None
    received = document.get("received")
    try:
        received_date = date.fromisoformat(received) if received else None
    except ValueError:
        raise ConfigError(file, "received", f"{received!r} is not a date (YYYY-MM-DD)") from None
    return build_request(
        pairs,
        request_id=document.get("request_id"),
        kind=document.get("kind", "access"),
        received=received_date,
        language=document.get("language", "nl"),
        controller=document.get("controller", "all"),
        client=document.get("client"),
        subject_name=document.get("subject_name"),
        note=document.get("note"),
    )


def load_request(path: Path) -> Request:
    """Read a request file (JSON or YAML)."""
    return request_from_document(read_document(path, label=path.name), file=path.name)
