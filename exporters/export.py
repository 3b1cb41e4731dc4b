"""Export a case as a package in one or more formats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from discover.case import read_case
from discover.errors import ExportError
from discover.policy import ControllerScope, PackageKind, select_hits
from discover.register import Register, default_register
from discover.review import load_decisions
from exporters.content import package_document
from exporters.json_export import write_json_package
from exporters.package import PackageWriter

FORMATS: tuple[str, ...] = ("json",)


def package_name(request_id: str, kind: PackageKind, controller: ControllerScope) -> str:
    """The package directory's name: request id, kind and, if limited, the controller."""
    suffix = "" if controller == "all" else f"-{controller}"
    return f"{request_id}-{kind}{suffix}"


def export_case(
    case_path: Path,
    *,
    kind: PackageKind = "access",
    formats: Sequence[str] = ("json",),
    language: str | None = None,
    out: Path | None = None,
    controller: ControllerScope = "all",
    force: bool = False,
    register: Register | None = None,
) -> Path:
    """Write a package for a case; returns the package directory."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"unknown format {unknown!r}; expected some of {', '.join(FORMATS)}")
    register = register or default_register()
    case = read_case(case_path)
    language = language or case.request.language
    decisions = load_decisions(case_path)
    selection = select_hits(case.hits, kind=kind, controller=controller, decisions=decisions)
    document = package_document(
        case, selection, register, kind=kind, language=language, controller=controller
    )
    target = (out or case_path / "packages") / package_name(
        case.request.request_id, kind, controller
    )
    with PackageWriter(target, force=force) as writer:
        if "json" in formats:
            write_json_package(writer, document, f"{kind}.json")
        return writer.commit(
            {
                "request_id": case.request.request_id,
                "kind": kind,
                "language": language,
                "controller_scope": controller,
                "formats": list(formats),
                "complete": case.complete,
            }
        )
