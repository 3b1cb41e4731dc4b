"""Search, review and export record themselves in the register when it knows the request.

The command-line tools call these after they finish. Nothing happens when no desk is
set up (no ``$DISCOVER_DESK_DB`` and no store in the data directory) or when the
request id is not registered; a failure to record is reported, never fatal to the
work already done.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from discover.errors import DiscoverError

log = logging.getLogger(__name__)
ACTOR_ENV = "DISCOVER_REVIEWER"


def cli_actor() -> str:
    """Who works on the command line: $DISCOVER_REVIEWER, else the login name."""
    name = os.environ.get(ACTOR_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def search_detail(summary: dict[str, Any]) -> dict[str, Any]:
    """What a search record keeps: sources and counts, never an identifier or value."""
    return {
        "complete": bool(summary.get("complete")),
        "sources": {s["name"]: s["status"] for s in summary.get("sources", [])},
        "records": summary.get("totals", {}).get("records", 0),
        "needs_review": summary.get("totals", {}).get("needs_review", 0),
    }


def _record(request_id: str, status: str, action: str, **kwargs: Any) -> bool:
    from discover.desk.location import desk_configured

    if not desk_configured():  # the common case: no register, nothing to load
        return False
    try:
        from discover.desk.store import Desk

        desk = Desk.existing()
        if desk is None:
            return False
        with desk:
            if desk.find(request_id) is None:
                return False
            desk.advance(request_id, status, action=action, **kwargs)
            return True
    except (DiscoverError, OSError, ImportError) as exc:
        log.warning("the register could not record the %s of %s: %s", action, request_id, exc)
        return False
    except Exception as exc:  # a register problem never undoes finished work
        log.warning("the register could not record the %s of %s: %s", action, request_id, exc)
        return False


def searched(
    request_id: str, case_dir: Path, summary: dict[str, Any], *, actor: str | None = None
) -> bool:
    """Record a search written to ``case_dir``; True when the register took it."""
    return _record(
        request_id,
        "searched",
        "searched",
        actor=actor or cli_actor(),
        detail=search_detail(summary),
        links=[("case", case_dir.resolve())],
    )


def reviewed(
    request_id: str, case_dir: Path, decisions: Sequence[Any], *, actor: str | None = None
) -> bool:
    """Record review decisions (counts per action; the reasons stay in the case)."""
    counts: dict[str, int] = {}
    for decision in decisions:
        counts[decision.action] = counts.get(decision.action, 0) + 1
    return _record(
        request_id,
        "reviewed",
        "reviewed",
        actor=actor or cli_actor(),
        detail={"decisions": counts},
        links=[("case", case_dir.resolve())],
    )


def case_request_id(case_dir: Path) -> str | None:
    """The request id a case was searched for (its request.json), None if unreadable."""
    import json

    try:
        document = json.loads((case_dir / "request.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = document.get("request_id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def exported(
    case_dir: Path,
    package: Path,
    *,
    kind: str,
    formats: Sequence[str],
    complete: bool,
    actor: str | None = None,
) -> bool:
    """Record a package written from ``case_dir`` for its request."""
    request_id = case_request_id(case_dir)
    if request_id is None:
        return False
    return _record(
        request_id,
        "exported",
        "exported",
        actor=actor or cli_actor(),
        detail={
            "kind": kind,
            "formats": list(formats),
            "complete": complete,
            "package": package.name,
        },
        links=[("package", package.resolve())],
    )


def demo_registered(
    root: Path,
    request: Any,
    summary: dict[str, Any],
    packages: dict[str, Path],
) -> None:
    """Leave the demo directory usable as a data directory with the demo request in it.

    ``packages`` maps each package kind to its directory; the demo's case is
    ``root/case`` and its packages were written in every format.
    """
    from discover.desk.store import Desk

    with Desk.open(root, use_env=False) as desk:
        if desk.find(request.request_id) is None:
            desk.add_request(request, kind=request.kind, actor="demo")
        desk.advance(
            request.request_id,
            "searched",
            actor="demo",
            action="searched",
            detail=search_detail(summary),
            links=[("case", (root / "case").resolve())],
        )
        for kind, path in packages.items():
            desk.advance(
                request.request_id,
                "exported",
                actor="demo",
                action="exported",
                detail={
                    "kind": kind,
                    "formats": ["json", "csv", "xlsx"],
                    "complete": bool(summary.get("complete")),
                    "package": path.name,
                },
                links=[("package", path.resolve())],
            )
