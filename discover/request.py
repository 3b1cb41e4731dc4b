"""A data-subject request: who asks, what for, and the identifiers to search with.

Requests come from a JSON file (validated against ``request.schema.json``) or from
the command line. Every identifier is normalised when the request is built, so a
typo is reported before any source is touched.

A malformed identifier does not sink the request: the staff member typed what the
subject wrote, and the other identifiers may find everything. It is *rejected* — kept
in the request with its place and reason, not searched — and the search, the case,
the summary and the package say so and count as incomplete. Only a request without a
single usable identifier is refused. ``strict`` refuses the whole request at the first
malformed identifier instead.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from discover.config import read_document, validate
from discover.errors import ConfigError, InvalidIdentifier
from discover.identifiers import Identifier, assumptions

RequestKind = Literal["access", "portability"]
ControllerScope = Literal["provider", "client", "all"]
REQUEST_VERSION = 1
#: deeper than this a request is not a request: refused before it is parsed further
MAX_NESTING = 20


def visible(text: str, limit: int = 120) -> str:
    """``text`` with every invisible or control character written as ``\\uXXXX``, so
    that a right-to-left override in a rejected value cannot reorder what staff read."""
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text[:limit])
    return shown + ("…" if len(text) > limit else "")


@dataclass(frozen=True, slots=True)
class Rejected:
    """An identifier of the request that could not be read, and was not searched."""

    type: str
    value: str
    reason: str
    place: str

    def to_document(self) -> dict[str, str]:
        return {
            "type": self.type,
            "value": self.value,
            "reason": self.reason,
            "place": self.place,
        }

    def describe(self) -> str:
        return f"{self.place}: {self.reason}"


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
    #: identifiers given that could not be read (not searched)
    rejected: tuple[Rejected, ...] = ()
    #: what reading an identifier assumed (an IMEI without its check digit …)
    notes: tuple[str, ...] = ()

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
        if self.rejected:
            document["rejected_identifiers"] = [r.to_document() for r in self.rejected]
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
    strict: bool = True,
    places: list[str] | None = None,
    file: str = "request",
    rejected: tuple[Rejected, ...] = (),
) -> Request:
    """A request from (type, raw value) pairs.

    ``strict``: InvalidIdentifier on the first malformed value. Otherwise malformed
    values are rejected (named by ``places``, e.g. ``--phone`` or ``identifiers[1]``)
    and the request is built from the rest; ConfigError when nothing usable is left.
    """
    if not identifiers and not rejected:
        raise ConfigError(file, "identifiers", "at least one identifier is needed")
    if request_id is not None:
        check_request_id(request_id, file=file, where="request_id")
    places = places or [f"identifiers[{i}]" for i in range(len(identifiers))]
    parsed: list[Identifier] = []
    usable: list[tuple[str, str]] = []
    notes: list[str] = []
    refused = list(rejected)
    for (kind_, raw), place in zip(identifiers, places, strict=True):
        try:
            parsed.append(Identifier.parse(kind_, raw))
        except InvalidIdentifier as exc:
            if strict:
                raise
            refused.append(Rejected(kind_, visible(str(raw)), str(exc), place))
            continue
        usable.append((kind_, raw))
        notes.extend(assumptions(kind_, raw))
    if not parsed:
        reasons = "; ".join(r.describe() for r in refused)
        raise ConfigError(file, "identifiers", f"no usable identifier ({reasons})")
    normalised = tuple(dict.fromkeys(parsed))
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
        raw_identifiers=tuple(usable),
        rejected=tuple(refused),
        notes=tuple(dict.fromkeys(notes)),
    )


def request_from_document(document: Any, *, file: str, strict: bool = False) -> Request:
    """Validate a request document and build the Request; errors name the file and place.

    ``strict``: a malformed identifier refuses the request (ConfigError naming it);
    otherwise it is rejected and the request goes on with the others.
    """
    check_nesting(document, file=file)
    validate(document, "request.schema.json", file=file)
    pairs = [(item["type"], item["value"]) for item in document["identifiers"]]
    if strict:
        for index, (kind, raw) in enumerate(pairs):
            try:
                Identifier.parse(kind, raw)
            except InvalidIdentifier as exc:
                raise ConfigError(file, f"identifiers[{index}].value", str(exc)) from None
    earlier = tuple(
        Rejected(item["type"], item["value"], item["reason"], item["place"])
        for item in document.get("rejected_identifiers", [])
    )
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
        strict=strict,
        places=[f"identifiers[{index}].value" for index in range(len(pairs))],
        file=file,
        rejected=earlier,
    )


def check_nesting(document: Any, *, file: str, limit: int = MAX_NESTING) -> None:
    """ConfigError naming the place where ``document`` nests deeper than ``limit``.

    A request is two levels deep; one nested hundreds of levels is an attack on the
    parser and the validator, refused with its place (exit 2), not a crash.
    """
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, place, depth = stack.pop()
        if depth > limit:
            raise ConfigError(file, place or "(top)", f"nested deeper than {limit} levels")
        if isinstance(value, dict):
            stack.extend(
                (v, f"{place}.{k}" if place else str(k), depth + 1) for k, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend((v, f"{place}[{i}]", depth + 1) for i, v in enumerate(value))


def _text_nesting(text: str, *, file: str, limit: int = MAX_NESTING) -> None:
    """The same check on the text, before a parser recurses into it: JSON and YAML
    flow collections (``[[[[…``) nest by brackets outside strings."""
    depth = 0
    line, column = 1, 0
    quote: str | None = None
    escaped = False
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > limit:
                raise ConfigError(
                    file, f"line {line} column {column}", f"nested deeper than {limit} levels"
                )
        elif char in "]}":
            depth -= 1


def load_request(path: Path, *, strict: bool = False) -> Request:
    """Read a request file (JSON or YAML; a UTF-8 byte order mark is allowed)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""  # read_document names the problem
    _text_nesting(text, file=path.name)
    try:
        document = read_document(path, label=path.name)
    except RecursionError:
        raise ConfigError(path.name, "(top)", f"nested deeper than {MAX_NESTING} levels") from None
    except ConfigError as exc:
        if not text or not path.read_bytes().startswith(b"\xef\xbb\xbf"):
            raise
        document = _without_bom(text, path.name, exc)
    return request_from_document(document, file=path.name, strict=strict)


def _without_bom(text: str, file: str, error: ConfigError) -> Any:
    """A request saved with a UTF-8 byte order mark (Windows Notepad does): parsed
    from the text without it."""
    if file.lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                file, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"
            ) from None
    raise error
