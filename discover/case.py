"""The case directory: what a search found, kept for review and export.

A case holds ``request.json`` (the request as searched), ``hits.parquet`` (the hits
table), ``summary.json`` (per-source status, counts per source and category,
identifier provenance, warnings, and the SHA-256 of the other two) and, once staff
review it, ``decisions.json``. Every file is readable by the owner only.

A case is written as a whole: built in a hidden directory beside its place and
swapped in with one rename, so that a killed search leaves the old case or the new
one, never one request's file beside another's hits. Reading a case checks that it
holds together (its schema, the request id in every part, the checksums, the
register's categories), so that a tampered or mixed case is refused with the file
and the place rather than exported.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from discover.config import read_document, validate
from discover.errors import CaseError, ConfigError
from discover.files import (
    AppearedMeanwhile,
    atomic_open,
    remove_leftovers,
    sha256_file,
    staging_dir,
    swap_in,
    write_json,
)
from discover.hit_values import MATCH_KINDS
from discover.register import Register, default_register
from discover.request import Request, request_from_document

if TYPE_CHECKING:  # the engine writes cases; exporters read them without importing it
    import pyarrow as pa

    from discover.engine import SearchResult

CASE_VERSION = 1
REQUEST_FILE = "request.json"
HITS_FILE = "hits.parquet"
SUMMARY_FILE = "summary.json"
DECISIONS_FILE = "decisions.json"
#: the parts a summary carries the checksum of
CHECKSUMMED = (REQUEST_FILE, HITS_FILE)
#: names a case directory may hold besides its parts: review and export state, packages
#: written under it, a batch's marker, lock files, temporary files of atomic writes
_CASE_ENTRIES = frozenset(
    {
        REQUEST_FILE,
        HITS_FILE,
        SUMMARY_FILE,
        DECISIONS_FILE,
        "exports.json",
        "packages",
        "batch.json",
        ".decisions.lock",
        ".exports.lock",
    }
)
_VALUE_TYPES = ("text", "integer", "decimal", "boolean", "date", "datetime", "time", "binary")
_LEGAL_BASES = ("contract", "legal_obligation", "legitimate_interest", "consent")


@dataclass(frozen=True, slots=True)
class Case:
    """A case read back from disk."""

    path: Path
    request: Request
    hits: pa.Table
    summary: dict[str, Any]

    @property
    def complete(self) -> bool:
        return bool(self.summary.get("complete"))


def summarise(result: SearchResult) -> dict[str, Any]:
    """The summary document: counts per source and category, failures, provenance.

    ``records`` count distinct records, ``hits`` their field values. A record has one
    match kind, so ``by_match`` and ``needs_review`` (the possible ones, which staff
    must look at) count records; ``overdue``, ``secrets_withheld`` and ``third_party``
    are flags of single field values and count hits. Per source, ``categories``
    counts the hits in each register category.
    """
    hits = result.hits
    columns = {
        name: hits.column(name).to_pylist()
        for name in ("source", "location", "record_key", "category", "match")
    }
    kind_of: dict[tuple[str, str, str], str] = {}
    per_source_hits: Counter[str] = Counter()
    per_category: dict[str, Counter[str]] = {}
    for source, location, key, category, match in zip(*columns.values(), strict=True):
        kind_of[(source, location, key)] = match
        per_source_hits[source] += 1
        per_category.setdefault(source, Counter())[category] += 1
    per_source_records = Counter(source for source, _location, _key in kind_of)
    matches = Counter(kind_of.values())
    source_docs = []
    for status in result.sources:
        document = status.to_document()
        document["records"] = per_source_records.get(status.name, 0)
        document["hits"] = per_source_hits.get(status.name, 0)
        document["categories"] = dict(sorted(per_category.get(status.name, Counter()).items()))
        source_docs.append(document)

    def flagged(name: str) -> int:
        return sum(1 for flag in hits.column(name).to_pylist() if flag)

    return {
        "version": CASE_VERSION,
        "request_id": result.request.request_id,
        "complete": result.complete,
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "totals": {
            "records": len(kind_of),
            "hits": hits.num_rows,
            "by_match": dict(sorted(matches.items())),
            "needs_review": matches.get("possible", 0),
            "overdue": flagged("overdue"),
            "secrets_withheld": flagged("secret"),
            "third_party": flagged("third_party"),
        },
        "sources": source_docs,
        "failed_sources": [s.name for s in result.failed_sources],
        "identifiers": [trace.to_document() for trace in result.traces],
        "warnings": result.warnings,
        **result.summary_fields(),
    }


def is_case(path: Path) -> bool:
    """A directory holding a finished case (its summary is written last)."""
    return (path / SUMMARY_FILE).is_file()


def _stray_entries(path: Path) -> list[str]:
    """What a directory holds that no case would: a reason not to write a case there."""
    strays = []
    for entry in path.iterdir():
        name = entry.name
        if name in _CASE_ENTRIES or (name.startswith(".") and name.endswith(".part")):
            continue
        strays.append(name)
    return sorted(strays)


def check_case_target(path: Path, *, force: bool = False) -> None:
    """Refuse a place a case must not be written to, before anything is searched.

    An existing case needs ``force``, and so does a damaged one that holds decisions,
    an export log or packages; a half-written one (a search killed before its summary)
    is replaced without. A directory with anything else in it is not a case and is
    left alone, and so is a path that is not a directory.
    """
    if not str(path).strip():
        raise CaseError("the case directory's name is empty; give --case DIR")
    if os.path.lexists(path) and not path.is_dir():
        raise CaseError(f"{path} exists and is not a directory; choose another --case")
    for parent in path.absolute().parents:
        if os.path.lexists(parent) and not parent.is_dir():
            raise CaseError(f"{path}: {parent} is not a directory; choose another --case")
    if not path.is_dir():
        return
    here = Path.cwd().resolve()
    if path.resolve() == here or path.resolve() in here.parents:
        raise CaseError(
            f"{path} is (or holds) the current directory, which a case replaces as a whole; "
            "run from elsewhere or choose another --case"
        )
    if is_case(path):
        if not force:
            raise CaseError(f"{path} already holds a case; choose another --case or pass --force")
        return
    strays = _stray_entries(path)
    kept = {REQUEST_FILE, HITS_FILE} | {name for name in _CASE_ENTRIES if name.startswith(".")}
    state = sorted(entry.name for entry in path.iterdir() if entry.name in _CASE_ENTRIES - kept)
    if state and not strays and not force:
        raise CaseError(
            f"{path} holds a case without {SUMMARY_FILE} but with {', '.join(state)}; "
            "pass --force to replace it"
        )
    if strays:
        shown = ", ".join(repr(name) for name in strays[:3]) + (" …" if len(strays) > 3 else "")
        raise CaseError(
            f"{path} is not empty and holds no case ({shown}); choose a new or empty directory"
        )


def write_case(result: SearchResult, path: Path, *, force: bool = False) -> dict[str, Any]:
    """Write a search result as a case directory, as a whole; refuses to overwrite another case.

    With ``force`` the existing case is replaced entirely: its decisions, export log
    and packages referred to the previous hits and go with it.
    """
    check_case_target(path, force=force)
    final = Path(os.path.realpath(path))  # through a link: the case is where it points
    existed = final.is_dir()
    try:
        staging = staging_dir(final)
    except OSError as exc:  # name the case, not the hidden directory it is built in
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        write_json(staging / REQUEST_FILE, result.request.to_document())
        with atomic_open(staging / HITS_FILE, "wb") as handle:
            import pyarrow.parquet as pq  # here: loaded during the search's scans

            pq.write_table(result.hits, handle, compression="zstd")
        summary = summarise(result)
        summary["checksums"] = {name: sha256_file(staging / name) for name in CHECKSUMMED}
        write_json(staging / SUMMARY_FILE, summary)
        if existed:  # a directory discover did not make keeps its mode
            os.chmod(staging, stat.S_IMODE(final.stat().st_mode))
        swap_in(staging, final, replace=existed)
    except AppearedMeanwhile:
        raise CaseError(
            f"{path}: another case appeared meanwhile; not replacing it (rerun with --force)"
        ) from None
    except OSError as exc:  # a full disk while writing: name the case's file
        named = os.fsdecode(exc.filename) if exc.filename is not None else ""
        if not named.startswith(str(staging)):
            raise
        shown = str(path / Path(named).relative_to(staging)) if named != str(staging) else path
        raise OSError(exc.errno, exc.strerror, str(shown)) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    remove_leftovers(final)
    return summary


def _case_error(exc: ConfigError) -> CaseError:
    return CaseError(str(exc))


def read_case(path: Path, register: Register | None = None) -> Case:
    """Read a case directory back and check that it holds together.

    CaseError names the file, the place and what is wrong: a part missing or not in
    its schema, parts of different requests, a checksum that differs, a category the
    register does not know. (A secret's value is withheld by the export policy,
    whatever the case holds.)
    """
    if not path.is_dir():
        raise CaseError(f"{path}: no such case directory")
    for name in (REQUEST_FILE, HITS_FILE, SUMMARY_FILE):
        if not (path / name).is_file():
            raise CaseError(f"{path}: {name} is missing; is this a case directory?")
    label = path.name or str(path)
    try:
        request = request_from_document(
            read_document(path / REQUEST_FILE, label=f"{label}/{REQUEST_FILE}"),
            file=f"{label}/{REQUEST_FILE}",
        )
        summary = read_document(path / SUMMARY_FILE, label=f"{label}/{SUMMARY_FILE}")
        if isinstance(summary, dict) and "checksums" not in summary:
            raise CaseError(
                f"{label}/{SUMMARY_FILE}: checksums: missing; the case was written by an "
                "older discover (or altered): search again to export it"
            )
        validate(summary, "case-summary.schema.json", file=f"{label}/{SUMMARY_FILE}")
    except ConfigError as exc:
        raise _case_error(exc) from None
    import pyarrow as pa
    import pyarrow.parquet as pq

    from discover.hits import HITS_SCHEMA, with_optional_columns

    try:
        hits = pq.read_table(path / HITS_FILE)
    except (OSError, pa.ArrowException) as exc:
        raise CaseError(f"{path}/{HITS_FILE}: unreadable ({exc})") from None
    _check_nulls(f"{label}/{HITS_FILE}", hits)
    if not hits.schema.equals(HITS_SCHEMA, check_metadata=False):
        try:
            hits = with_optional_columns(hits)
            hits = hits.select(list(HITS_SCHEMA.names)).cast(HITS_SCHEMA)
        except (KeyError, ValueError, pa.ArrowException) as exc:
            raise CaseError(f"{path}/{HITS_FILE}: not in the hits schema ({exc})") from None
    _check_summary(path, label, request, summary)
    _check_hits(f"{label}/{HITS_FILE}", hits, request.request_id, summary, register)
    return Case(path=path, request=request, hits=hits, summary=summary)


def _check_summary(path: Path, label: str, request: Request, summary: dict[str, Any]) -> None:
    file = f"{label}/{SUMMARY_FILE}"
    if summary["request_id"] != request.request_id:
        raise CaseError(
            f"{file}: request_id: {summary['request_id']!r} but {REQUEST_FILE} is request "
            f"{request.request_id!r}; the case is mixed from two searches, search again"
        )
    for name in CHECKSUMMED:
        if sha256_file(path / name) != summary["checksums"][name]:
            raise CaseError(
                f"{file}: checksums.{name}: {name} has changed since the search wrote it "
                "(or belongs to another search); search again"
            )
    names = [source["name"] for source in summary["sources"]]
    failed = {s["name"] for s in summary["sources"] if s["status"] == "failed"}
    unknown = [name for name in summary["failed_sources"] if name not in names]
    if unknown:
        raise CaseError(f"{file}: failed_sources: {unknown[0]!r} is not one of the sources")
    if failed - set(summary["failed_sources"]):
        missing = sorted(failed - set(summary["failed_sources"]))[0]
        raise CaseError(f"{file}: failed_sources: lacks {missing!r}, whose status is failed")
    truncated = any(s.get("truncated") for s in summary["sources"])
    if summary["complete"] and (failed or truncated):
        raise CaseError(f"{file}: complete: true, but a source failed or was cut short")


def _first_row(mask: pa.ChunkedArray | pa.Array) -> int:
    import pyarrow.compute as pc  # reading a case only: a search writes one without it

    return int(pc.index(mask, True).as_py())


def _check_nulls(file: str, hits: pa.Table) -> None:
    """A column the hits schema requires is filled in every row."""
    from discover.hits import HITS_SCHEMA

    for field in HITS_SCHEMA:
        if field.nullable or field.name not in hits.column_names:
            continue
        column = hits.column(field.name)
        if column.null_count:
            row = _first_row(column.is_null())
            raise CaseError(f"{file}: row {row + 1}, column {field.name}: empty (null)")


def _check_hits(
    file: str,
    hits: pa.Table,
    request_id: str,
    summary: dict[str, Any],
    register: Register | None,
) -> None:
    """The hits hold together with the case: one request, known sources and categories."""
    import pyarrow as pa
    import pyarrow.compute as pc  # reading a case only: a search writes one without it

    register = register or default_register()
    checks: list[tuple[str, list[str], str]] = [
        ("request_id", [request_id], f"not the case's request {request_id!r}"),
        ("source", [s["name"] for s in summary["sources"]], "not a source of the summary"),
        ("category", sorted(register.categories), "not a category of the register"),
        ("match", list(MATCH_KINDS), f"expected one of {', '.join(MATCH_KINDS)}"),
        ("value_type", list(_VALUE_TYPES), f"expected one of {', '.join(_VALUE_TYPES)}"),
        ("legal_basis", list(_LEGAL_BASES), f"expected one of {', '.join(_LEGAL_BASES)}"),
    ]
    for name, allowed, reason in checks:
        column = hits.column(name)
        outside = pc.invert(pc.is_in(column, value_set=pa.array(allowed, pa.string())))
        if hits.num_rows and pc.any(outside).as_py():
            row = _first_row(outside)
            raise CaseError(
                f"{file}: row {row + 1}, column {name}: {column[row].as_py()!r} is {reason}"
            )
