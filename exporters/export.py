"""Export a case as a package in one or more formats.

One pass: read the case and its review decisions, apply the policy once, build the
content once, let each format render it into a private staging directory, add the
README, checksums and manifest, optionally encrypt, rename into place, and record
the export (with the full decisions it applied) in the case's export log.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from discover.case import Case, read_case
from discover.config import read_document
from discover.deadlines import MAX_EXTENSION_MONTHS
from discover.errors import CaseError, ConfigError, ExportError
from discover.files import FILE_MODE, write_json
from discover.policy import ControllerScope, PackageKind, Selection, select_hits
from discover.register import Register, default_register
from discover.review import load_decisions
from exporters.content import (
    PackageContext,
    access_document,
    fill,
    hit_controller_names,
    labels,
    placeholders,
    portability_document,
    scrub_via,
    unattributed_records,
)
from exporters.csv_export import write_csv_package
from exporters.formats import FORMATS
from exporters.json_export import write_json_package
from exporters.letter import LETTER_FILE, letter_html
from exporters.package import MANIFEST, PackageWriter
from exporters.tables import RecordType, record_types
from exporters.vcard import VCARD_FILE, VCardVersion, contacts_from_hits, vcards
from exporters.xlsx_export import write_xlsx_package

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
    #: categories in the package that the privacy statement does not mention
    statement_notices: list[str] = field(default_factory=list)
    #: records of client data in the package whose client organisation is not known:
    #: their controller is named generically ("the client organisation")
    unattributed_client_records: int = 0


class UndecidedMatches(ExportError):
    """The case holds possible matches nobody decided on: review them first."""

    def __init__(self, case_path: Path, count: int) -> None:
        self.count = count
        super().__init__(
            f"{case_path}: {count} possible match(es) await a decision; review them with "
            f"`discover review {case_path}` (or export anyway with --allow-undecided, "
            "which the export log records)"
        )


#: controller scopes whose packages hold data the provider processes for its clients
CLIENT_SCOPES: tuple[str, ...] = ("client", "all")


class MissingClientInstruction(ExportError):
    """Client records asked for without the client's instruction to hand them out."""

    def __init__(self, controller: str) -> None:
        self.controller = controller
        super().__init__(
            f"controller {controller!r} puts out data the provider processes on behalf of "
            "client organisations (as their processor, Art. 28 GDPR), which goes out only on "
            "the client's instruction: give its reference (--client-instruction REF)"
        )


def needs_client_instruction(controller: str, client_instruction: str | None) -> bool:
    """Whether an export in ``controller`` scope lacks the client's instruction it needs."""
    return controller in CLIENT_SCOPES and not (client_instruction or "").strip()


def require_client_instruction(controller: str, client_instruction: str | None) -> None:
    """Refuse client records without the client's instruction (every caller, one rule)."""
    if needs_client_instruction(controller, client_instruction):
        raise MissingClientInstruction(controller)


ATTACHMENTS_DIR = "files"
MAX_ATTACHMENT = 200 * 1024 * 1024


def attachment_names(
    hits: Any, register: Register, language: str
) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """Files a package holds (a recording its mapping says where to find): per field
    reference, the name in the package (by category title, never by the file's own
    name, which may name a person) and the file's path."""
    found: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    counts: dict[str, int] = {}
    names = ("source", "location", "record_key", "field", "file", "category")
    columns = [hits.column(n).to_pylist() for n in names]
    hidden = pc.or_(hits.column("secret"), hits.column("third_party")).to_pylist()
    for (source, location, key, name, path, category), withheld in zip(
        zip(*columns, strict=True), hidden, strict=True
    ):
        if not path or withheld:
            continue  # nothing to attach, or a secret or another person's
        title = register.category(category).named(language)
        counts[title] = counts.get(title, 0) + 1
        if path.startswith("data:"):
            mime = path[5:].split(";", 1)[0]
            suffix = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}.get(
                mime, ".bin"
            )
        else:
            suffix = Path(path).suffix.lower()[:8]
        found[(source, location, key, name)] = (
            f"{ATTACHMENTS_DIR}/{title} {counts[title]}{suffix}",
            path,
        )
    return found


def read_attachment(path: str) -> bytes:
    """A referenced file's bytes: a regular file under the size cap, else ExportError.
    A photo the case holds itself (a data: URI) is decoded."""
    if path.startswith("data:"):
        return base64.b64decode(path.split(",", 1)[1])
    target = Path(path)
    try:
        with target.open("rb") as handle:
            if not os.fstat(handle.fileno()).st_size <= MAX_ATTACHMENT:
                raise ExportError(f"{path}: larger than {MAX_ATTACHMENT} bytes; not included")
            return handle.read()
    except OSError as exc:
        raise ExportError(f"{path}: the file a record refers to cannot be read ({exc})") from None


def check_extension(extension: dict[str, Any] | None) -> None:
    """An Art. 12(3) extension: one or two further months, with the reason given."""
    if extension is None:
        return
    months = extension.get("months")
    if not isinstance(months, int) or not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise ExportError(
            f"--extend-deadline: expected 1 or 2 months (Art. 12(3) GDPR allows at most "
            f"{MAX_EXTENSION_MONTHS} further months), got {months!r}"
        )
    if not str(extension.get("reason") or "").strip():
        raise ExportError(
            "--extend-deadline needs --extension-reason: the subject must be told why "
            "(Art. 12(3) GDPR)"
        )


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
    if LETTER_FILE in files:
        lines.append(f"- {LETTER_FILE}: {described['letter'][language]}")
    for name in (f"{kind}.json", f"{kind}.xlsx"):
        if name in files:
            lines.append(f"- {name}: {described[name][language]}")
    if any(f.startswith("csv/") for f in files):
        lines.append(f"- {described['csv'][language]}")
    if VCARD_FILE in files:
        lines.append(f"- {described['vcf'][language]}")
    if any(f.startswith(f"{ATTACHMENTS_DIR}/") for f in files):
        lines.append(f"- {described['attachments'][language]}")
    lines.append(f"- {described['manifest'][language]}")
    if selection.own_use:
        lines += ["", t["own_use"][language]]
    if selection.withheld:
        lines += ["", t["withheld"][language]]
        names = dict(
            zip(
                selection.hits.column("field").to_pylist(),
                selection.hits.column(f"label_{language}").to_pylist(),
                strict=True,
            )
        )
        seen = sorted({(w["field"], w.get("secret", "system")) for w in selection.withheld})
        kinds = labels()["labels"]["secret_kinds"]
        lines += [f"- {names.get(f) or f} ({kinds[k][language]})" for f, k in seen]
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
    controller: ControllerScope = "provider",
    force: bool = False,
    register: Register | None = None,
    passphrase: str | None = None,
    vcard_version: VCardVersion = "3.0",
    client_instruction: str | None = None,
    allow_undecided: bool = False,
    exported_by: str | None = None,
    extension: dict[str, Any] | None = None,
) -> ExportResult:
    """Write a package for a case; see the module docstring for the steps.

    The default package holds the provider's own data in full and names every client
    organisation whose data the provider holds as its processor, with the categories
    and whom to address. The clients' records go out with ``controller`` ``client``
    or ``all``, and only with ``client_instruction`` (the client's instruction,
    recorded in the export log): without it they are refused
    (:class:`MissingClientInstruction`). A case with possible matches nobody decided on
    is refused (:class:`UndecidedMatches`) unless ``allow_undecided``, which leaves them
    out and is recorded in the log: a package never silently lacks records nobody
    chose to leave out. ``exported_by`` and ``extension`` (Art. 12(3): ``months`` 1 or
    2 and a ``reason``) go into the log; the extension also into the package.
    """
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"unknown format {unknown!r}; expected some of {', '.join(FORMATS)}")
    if kind not in ("access", "portability"):
        raise ExportError(f"unknown kind {kind!r}; expected access or portability")
    if controller not in ("provider", "client", "all"):
        raise ExportError(f"unknown controller {controller!r}; expected provider, client or all")
    require_client_instruction(controller, client_instruction)
    check_extension(extension)
    register = register or default_register()
    case = read_case(case_path)
    language = language or case.request.language
    if language not in LANGUAGES:
        raise ExportError(f"unknown language {language!r}; expected nl or en")
    decisions = load_decisions(case_path)
    rules = {
        "kind": kind,
        "decisions": decisions,
        "own_use_categories": register.own_use_categories(),
        "masked_categories": register.masked_categories(),
    }
    selection = select_hits(case.hits, controller=controller, **rules)  # type: ignore[arg-type]
    if selection.pending_review and not allow_undecided:
        raise UndecidedMatches(case_path, selection.pending_review)
    selection.hits = scrub_via(selection.hits, case)
    # which records a package of every controller holds, for the controller parts (their
    # controllers, categories and clients): not other people's numbers masked again,
    # which changes values only, and took most of a 100,000-hit export's time
    everything = (
        selection.hits
        if controller == "all"
        else select_hits(  # type: ignore[arg-type]
            case.hits, controller="all", **{**rules, "masked_categories": None}
        ).hits
    )
    generated_at = datetime.now(UTC).isoformat(timespec="seconds")
    unattributed = unattributed_records(selection.hits, case)
    attachments = attachment_names(selection.hits, register, language)
    ctx = PackageContext(
        case=case,
        selection=selection,
        register=register,
        language=language,
        controller=controller,
        generated_at=generated_at,
        everything=everything,
        extension=extension,
        attachments={ref: name for ref, (name, _path) in attachments.items()},
    )
    tables: list[RecordType] = []
    if "csv" in formats or "xlsx" in formats or kind == "portability":
        tables = record_types(
            selection.hits,
            kind=kind,
            controller_names=hit_controller_names(selection.hits, case, register, language),
        )
    titles = {c.id: c.named(language) for c in register.categories.values()}
    target = (out or case_path / "packages") / package_name(
        case.request.request_id, kind, controller
    )
    files: list[str] = []
    contacts = 0
    with PackageWriter(target, force=force) as writer:
        if kind == "access":
            metadata = access_document(ctx, with_data=False)
            if "json" in formats:
                document = access_document(ctx)
                files.append(write_json_package(writer, document, "access"))
                del document
        else:
            metadata = portability_document(ctx, tables, with_records=False)
            if "json" in formats:
                document = portability_document(ctx, tables)
                files.append(write_json_package(writer, document, "portability"))
                del document
        title = metadata["title"]
        if "csv" in formats:
            files += write_csv_package(
                writer, metadata, tables, kind=kind, language=language, titles=titles
            )
        if "xlsx" in formats:
            # a portability workbook opens with the same Art. 15 cover as an access one
            cover = metadata if kind == "access" else access_document(ctx, with_data=False)
            cover = {**cover, "title": title}
            files.append(
                write_xlsx_package(
                    writer,
                    kind=kind,
                    metadata=metadata,
                    cover=cover,
                    selection=selection,
                    record_types=tables,
                    language=language,
                    titles=titles,
                )
            )
        if kind == "portability":
            found = contacts_from_hits(selection.hits)
            if found:
                writer.write_bytes(VCARD_FILE, vcards(found, vcard_version))
                files.append(VCARD_FILE)
                contacts = len(found)
        letter = letter_html(
            metadata,
            kind=kind,
            language=language,
            files=files,
        )
        writer.write_bytes(LETTER_FILE, letter)
        files.insert(0, LETTER_FILE)
        for name, source_path in attachments.values():
            writer.write_bytes(name, read_attachment(source_path))
            files.append(name)
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
            "unattributed_client_records": unattributed,
            "pending_review": selection.pending_review,
            "decisions_applied": selection.decisions_applied,
            "decisions_unmatched": selection.decisions_unmatched,
            "exported_by": exported_by,
            "client_instruction": client_instruction,
            "allow_undecided": bool(selection.pending_review) and allow_undecided,
            "deadline_extension": dict(extension) if extension else None,
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
    if unattributed:
        warnings.append(
            f"{unattributed} included record(s) of client data name no known client "
            'organisation: the package names their controller generically ("the client '
            'organisation"); tell the subject which client it is, or give the sources '
            "file's clients the identifiers these records use (see the search's warnings)"
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
        statement_notices=[n["category"] for n in ctx.statement_notices()],
        unattributed_client_records=unattributed,
    )
