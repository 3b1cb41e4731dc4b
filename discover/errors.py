"""The error hierarchy.

One root class, :class:`DiscoverError`, so that callers (the CLI, batch jobs) can
catch everything the engine raises on purpose and tell it apart from bugs. The
subclasses are grouped by what the caller should do about them:

* :class:`InputError` — the user gave something malformed (a mapping, a sources
  file, a request, an identifier). Nothing was searched; fix the input. The CLI
  exits with code 2.
* :class:`SourceError` — one source could not be searched. The search goes on
  with the other sources and the result names the failure. The CLI exits with 1.
* :class:`ExportError` — a package could not be written.
"""

from __future__ import annotations


class DiscoverError(Exception):
    """Root of every error discover raises deliberately."""


class InputError(DiscoverError):
    """Malformed input from the user: fix the input and run again."""


class InvalidIdentifier(InputError, ValueError):
    """An identifier value that cannot be normalised, with the reason."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        super().__init__(f"{kind_label(kind)} {shown_value(value)}: {reason}")


class ConfigError(InputError):
    """A mapping, sources file, register or request that does not validate.

    The message names the file, the place inside it (a dotted path) and what was
    expected, e.g. ``crm.yaml: tables.contacts.columns.phone.identifier: 'fone' is
    not one of ['email', 'phone', ...]``.
    """

    def __init__(self, file: str, place: str, message: str) -> None:
        self.file = file
        self.place = place
        self.message = message
        where = f"{file}: {place}" if place else file
        super().__init__(f"{where}: {message}")


class CaseError(InputError):
    """A case directory that is missing, incomplete or from another version."""


class SourceError(DiscoverError):
    """A source that could not be searched; carries the source's name."""

    def __init__(self, source: str, message: str, *, transient: bool = False) -> None:
        self.source = source
        self.message = message
        self.transient = transient
        super().__init__(f"source {source!r}: {message}")


class ExportError(DiscoverError):
    """A package that could not be written (exists already, disk full, ...)."""


_KIND_LABELS = {
    "email": "e-mail",
    "phone": "phone number",
    "mac": "MAC address",
    "imei": "IMEI",
    "iccid": "ICCID",
    "imsi": "IMSI",
    "ip": "IP address",
    "postcode": "postcode",
    "name": "name",
    "username": "user name",
    "account": "account id",
    "extension": "extension",
}


def shown_value(value: str, limit: int = 60) -> str:
    """A value as a message shows it: bare when plain, quoted when it has surprises.

    ``IMEI 352099001761480: check digit should be 1`` reads best; an empty value, one
    with surrounding or control characters, or one with ": " (which would blur where
    the reason starts) is shown quoted, and a very long value is cut.
    """
    text = value if len(value) <= limit else value[:limit] + "…"
    plain = bool(text) and text == text.strip() and text.isprintable() and ": " not in text
    return text if plain else repr(text)


def kind_label(kind: str) -> str:
    """The human label of an identifier type, for messages."""
    return _KIND_LABELS.get(kind, kind)
