"""A new request from what staff typed: the same checks on the command line and in the console.

Identifiers are parsed by :mod:`discover.identifiers` and the request built by
:mod:`discover.request`, so a value the console accepts is one ``discover search``
accepts too. Errors name the field (``--phone`` on the command line, ``phone`` in the
form) and say what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from discover.desk.schema import KINDS, SEARCH_KINDS
from discover.errors import ConfigError, InvalidIdentifier
from discover.identifiers import Identifier
from discover.request import Request, build_request, check_request_id


def parse_date(text: str, *, source: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(source, field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def new_request(
    identifiers: Sequence[tuple[str, str]],
    *,
    request_id: str,
    kind: str,
    received: date,
    language: str = "nl",
    client: str | None = None,
    source: str = "command line",
    prefix: str = "--",
) -> Request:
    """Check every field and build the request; ConfigError names the first bad one."""
    check_request_id(request_id, file=source, where=f"{prefix}id")
    if kind not in KINDS:
        raise ConfigError(source, f"{prefix}kind", f"{kind!r}: expected one of {', '.join(KINDS)}")
    if received > date.today():
        raise ConfigError(source, f"{prefix}received", f"{received} is in the future")
    if language not in ("nl", "en"):
        raise ConfigError(source, f"{prefix}lang", f"{language!r}: expected nl or en")
    pairs = [(k, v) for k, v in identifiers if v.strip()]
    if not pairs:
        raise ConfigError(
            source, "identifiers", "give at least one identifier (e-mail, phone number …)"
        )
    for identifier_kind, raw in pairs:
        try:
            Identifier.parse(identifier_kind, raw)
        except InvalidIdentifier as exc:
            raise ConfigError(source, f"{prefix}{identifier_kind}", str(exc)) from None
    return build_request(
        pairs,
        request_id=request_id,
        kind=kind if kind in SEARCH_KINDS else "access",  # type: ignore[arg-type]
        received=received,
        language=language,  # type: ignore[arg-type]
        client=client or None,
    )
