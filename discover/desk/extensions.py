"""One Art. 12(3) extension per request, whether it is given to ``discover requests
extend`` or to ``discover export --extend-deadline``.

The package tells the subject the deadline, the register tells staff: they must say
the same. When the register holds a case's request:

* an export given no extension carries the one the register holds into the package;
* an export given one records it in the register first, by the register's own rules
  (:meth:`discover.desk.store.Desk.extend`: once, 1 or 2 months, the subject told
  within the first month, not on a closed request), and only then writes it into
  the package; the same extension given again is not a second one;
* an export given another extension than the register holds is refused, naming both.

Without a register, or for a request the register does not hold, the export's
extension goes into the package and the export log only, as it always did. Nothing
is loaded for the register when none is set up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from discover.errors import InputError


class ExtensionConflict(InputError):
    """The export was given another deadline extension than the register holds."""

    def __init__(self, request_id: str, held: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        self.request_id = request_id
        self.held = dict(held)
        self.given = dict(given)
        super().__init__(
            f"request {request_id}: the register holds a deadline extension of "
            f"{_describe(held)}, and this export was given {_describe(given)}; a deadline "
            "is extended only once: export without --extend-deadline to use the "
            "register's, or give the same months and reason"
        )


@dataclass(frozen=True, slots=True)
class AgreedExtension:
    """The extension a package carries, and what the register had to do with it."""

    extension: dict[str, Any] | None
    #: for the officer: where the extension came from or that the register took it
    note: str | None = None


def _describe(extension: Mapping[str, Any]) -> str:
    return f"{extension['months']} month(s) (reason: {str(extension['reason']).strip()!r})"


def _same(held: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    return held["months"] == given["months"] and (
        str(held["reason"]).strip() == str(given["reason"]).strip()
    )


def agreed_extension(
    case_dir: Path,
    extension: Mapping[str, Any] | None,
    *,
    actor: str,
    today: date | None = None,
) -> AgreedExtension:
    """The extension to write into ``case_dir``'s package, agreed with the register.

    ``extension`` is what the export was given (``months`` and ``reason``, already
    checked), None for none. Raises :class:`ExtensionConflict` when the register
    holds another one, and the register's own error when it refuses to record it.
    """
    from discover.desk.hooks import case_request_id
    from discover.desk.location import desk_configured

    given = dict(extension) if extension else None
    if not desk_configured():  # the common case: no register, nothing to load
        return AgreedExtension(given)
    request_id = case_request_id(case_dir)
    if request_id is None:
        return AgreedExtension(given)
    from discover.desk.store import Desk, DeskError

    desk = Desk.existing()
    if desk is None:
        return AgreedExtension(given)
    with desk:
        record = desk.find(request_id)
        if record is None:
            return AgreedExtension(given)
        held = record.extension
        if given is None:
            if held is None:
                return AgreedExtension(None)
            return AgreedExtension(
                held,
                f"deadline {record.deadline}: the register holds an extension of "
                f"{_describe(held)}; the package carries it",
            )
        if held is not None:
            if not _same(held, given):
                raise ExtensionConflict(request_id, held, given)
            return AgreedExtension(held, f"deadline {record.deadline}, as the register holds")
        try:
            record = desk.extend(
                request_id,
                months=int(given["months"]),
                reason=str(given["reason"]),
                told=today or date.today(),
                actor=actor,
            )
        except DeskError as exc:
            raise DeskError(
                f"--extend-deadline: the register holds request {request_id} and does not "
                f"extend it: {exc}"
            ) from None
        return AgreedExtension(
            record.extension,
            f"the register records the extension of {request_id}: deadline "
            f"{record.first_deadline} -> {record.deadline}",
        )
