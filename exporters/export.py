"""Export a case as a package in one or more formats.

One pass: read the case and its review decisions, apply the policy once, build the
content once, let each format render it into a private staging directory, add the
README, checksums and manifest, optionally encrypt, rename into place, and record
the export (with the full decisions it applied) in the case's export log.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from discover.case import Case, read_case
from discover.config import read_document
from discover.errors import CaseError, ConfigError, ExportError
from discover.files import FILE_MODE, write_json
from discover.policy import ControllerScope, PackageKind, Selection, select_hits
from discover.register import Register, default_register
from discover.review import load_decisions
from exporters.content import (
    access_document,
    fill,
    labels,
    placeholders,
    portability_document,
    texts,
)
from exporters.csv_export import write_csv_package
from exporters.json_export import write_json_package
from exporters.package import MANIFEST, PackageWriter
from exporters.tables import RecordType, record_types
from exporters.vcard import VCARD_FILE, VCardVersion, contacts_from_hits, vcards
from exporters.xlsx_export import write_xlsx_package

FORMATS: tuple[str, ...] = ("json", "csv", "xlsx")
LANGUAGES: tuple[str, ...] = ("nl", "en")
EXPORT_LOG = "exports.json"
_LOG_LOCK = ".exports.lock"


@dataclass(slots=True)
class ExportResult:
    """What an export wrote, and what staff should know about it."""

    path: Path
    kind: PackageKind
    files: list[str]
    selection: Selection
    complete: bool
    encrypted: bool
    contacts: int = 0
    warnings: list[str] = field(default_factory=list)


def package_name(request_id: str, kind: PackageKind, controller: ControllerScope) -> str:
    """The package directory's name: request id, kind and, if limited, the controller."""
    suffix = "" if controller == "all" else f"-{controller}"
    return f"{request_id}-{kind}{suffix}"


def _readme(
    case: Case,
    kind: PackageKind,
    files: Sequence[str],
    selection: Selection,
    register: Register,
    language: str,
    generated_at: str,
    title: str,
) -> bytes:
    t = labels()["readme"]
    values = placeholders(register, case.request.client, language)
    text = fill(
        t[kind][language],
        {
            **values,
            "title": title,
            "request_id": case.request.request_id,
            "generated_at": generated_at,
        },
    )
    lines = [text, ""]
    described = t["files"]
    for name in (f"{kind}.json", f"{kind}.xlsx"):
        if name in files:
            lines.append(f"- {name}: {described[name][language]}")
    if any(f.startswith("csv/") for f in files):
        lines.append(f"- {described['csv'][language]}")
    if VCARD_FILE in files:
        lines.append(f"- {described['vcf'][language]}")
    lines.append(f"- {described['manifest'][language]}")
    if selection.own_use:
        lines += ["", t["own_use"][language]]
    if selection.withheld:
        lines += ["", t["withheld"][language]]
        seen = sorted({(w["source"], w["location"], w["field"]) for w in selection.withheld})
        lines += [f"- {s}.{loc}: {f}" for s, loc, f in seen]
    lines += ["", fill(t["questions"][language], values), ""]
    return "\n".join(lines).encode("utf-8")


@contextlib.contextmanager
def _locked(case_path: Path) -> Iterator[None]:
    fd = os.open(case_path / _LOG_LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_export_log(case_path: Path) -> list[dict[str, Any]]:
    """The exports recorded in a case, oldest first."""
    path = case_path / EXPORT_LOG
    if not path.exists():
        return []
    try:
        document = read_document(path, label=f"{case_path.name}/{EXPORT_LOG}")
    except ConfigError as exc:
        raise CaseError(str(exc)) from None
    entries = document.get("exports") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CaseError(f"{path}: expected an object with an 'exports' list")
    return entries


def _log_export(case_path: Path, entry: dict[str, Any]) -> None:
    with _locked(case_path):
        entries = load_export_log(case_path)
        entries.append(entry)
        write_json(case_path / EXPORT_LOG, {"version": 1, "exports": entries})


def export_package(
    case_path: Path,
    *,
    kind: PackageKind = "access",
    formats: Sequence[str] = ("json",),
    language: str | None = None,
    out: Path | None = None,
    controller: ControllerScope = "all",
    force: bool = False,
    register: Register | None = None,
    passphrase: str | None = None,
    vcard_version: VCardVersion = "3.0",
) -> ExportResult:
    """Write a package for a case; see the module docstring for the steps."""
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"unknown format {unknown!r}; expected some of {', '.join(FORMATS)}")
    if kind not in ("access", "portability"):
        raise ExportError(f"unknown kind {kind!r}; expected access or portability")
    if controller not in ("provider", "client", "all"):
        raise ExportError(f"unknown controller {controller!r}; expected provider, client or all")
    register = register or default_register()
    case = read_case(case_path)
    language = language or case.request.language
    if language not in LANGUAGES:
        raise ExportError(f"unknown language {language!r}; expected nl or en")
    decisions = load_decisions(case_path)
    selection = select_hits(
        case.hits,
        kind=kind,
        controller=controller,
        decisions=decisions,
        own_use_categories=register.own_use_categories(),
    )
    generated_at = datetime.now(UTC).isoformat(timespec="seconds")
    tables: list[RecordType] = []
    if "csv" in formats or "xlsx" in formats or kind == "portability":
        tables = record_types(selection.hits, kind=kind)
    target = (out or case_path / "packages") / package_name(
        case.request.request_id, kind, controller
    )
    files: list[str] = []
    contacts = 0
    with PackageWriter(target, force=force) as writer:
        if kind == "access":
            metadata = access_document(
                case,
                selection,
                register,
                language=language,
                controller=controller,
                generated_at=generated_at,
                with_data=False,
            )
            title = metadata["title"]
            if "json" in formats:
                document = access_document(
                    case,
                    selection,
                    register,
                    language=language,
                    controller=controller,
                    generated_at=generated_at,
                )
                files.append(write_json_package(writer, document, "access"))
                del document
        else:
            metadata = portability_document(
                case,
                selection,
                register,
                tables,
                controller=controller,
                generated_at=generated_at,
                with_records=False,
            )
            title = texts()["title"]["portability"][language]
            if "json" in formats:
                document = portability_document(
                    case,
                    selection,
                    register,
                    tables,
                    controller=controller,
                    generated_at=generated_at,
                )
                files.append(write_json_package(writer, document, "portability"))
                del document
        if "csv" in formats:
            files += write_csv_package(writer, metadata, tables, kind=kind)
        if "xlsx" in formats:
            files.append(
                write_xlsx_package(
                    writer,
                    kind=kind,
                    metadata=metadata,
                    selection=selection,
                    record_types=tables,
                    language=language,
                )
            )
        if kind == "portability":
            found = contacts_from_hits(selection.hits)
            if found:
                writer.write_bytes(VCARD_FILE, vcards(found, vcard_version))
                files.append(VCARD_FILE)
                contacts = len(found)
        readme = labels()["readme_file"][language]
        writer.write_bytes(
            readme,
            _readme(case, kind, files, selection, register, language, generated_at, title),
        )
        files.append(readme)
        path = writer.commit(
            {
                "request_id": case.request.request_id,
                "kind": kind,
                "language": language,
                "controller_scope": controller,
                "formats": [*formats, *(["vcf"] if contacts else [])],
                "complete": case.complete,
            },
            passphrase=passphrase,
        )
    manifest = read_document(path / MANIFEST, label=MANIFEST)
    _log_export(
        case_path,
        {
            "exported_at": generated_at,
            "package": str(path),
            "kind": kind,
            "formats": list(formats),
            "language": language,
            "controller_scope": controller,
            "encrypted": passphrase is not None,
            "files": manifest["files"],
            "included": {"hits": selection.hits.num_rows, "records": selection.records},
            "left_out": selection.left_out,
            "withheld": len(selection.withheld),
            "redacted": len(selection.redacted),
            "overdue_records": selection.overdue_records,
            "pending_review": selection.pending_review,
            "decisions_applied": selection.decisions_applied,
            "decisions_unmatched": selection.decisions_unmatched,
        },
    )
    warnings = []
    if selection.pending_review:
        warnings.append(
            f"{selection.pending_review} possible record(s) await review and were left out; "
            "see `discover review`"
        )
    if selection.overdue_records:
        warnings.append(
            f"{selection.overdue_records} included record(s) are past their retention period; "
            "schedule their deletion once the request is answered (`discover review`)"
        )
    if selection.decisions_unmatched:
        warnings.append(
            f"{len(selection.decisions_unmatched)} review decision(s) refer to records the "
            "case does not hold; they were not applied"
        )
    return ExportResult(
        path=path,
        kind=kind,
        files=[e["path"] for e in manifest["files"]],
        selection=selection,
        complete=case.complete,
        encrypted=passphrase is not None,
        contacts=contacts,
        warnings=warnings,
    )
