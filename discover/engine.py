"""The engine: a request in, every configured source searched, one hits table out.

It runs in rounds. Round 0 searches the request's identifiers. Identifiers found in
records that matched strongly (a contact row found by e-mail holds the mobile
number) are searched in the next round, each with its provenance. Expansion stops

* at identifiers held by more than ``max_holders`` person records in any one
  location (a switchboard number): their hits are dropped and the stop is reported;
* at fields a mapping marks ``expand: false``, secrets and other people's fields;
* at weak identifiers (a name or postcode alone only makes a match "possible");
* at ``max_depth`` rounds.

The rounds work on many subjects at once (:func:`search_many`): each source is
scanned once per round for the union of every subject's new identifiers and the
records are shared out by the identifiers that matched them. A single search is a
batch of one, so batch and single results are the same by construction.

A source that fails is named in the result with its error; the others still run
and the result says it is incomplete.
"""

from __future__ import annotations

import logging
import time as clock
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from connectors import connector_class
from connectors.base import WITHHELD, Connector, Link, Match, Record, ScanResult
from discover.errors import SourceError
from discover.hits import MATCH_KINDS, hits_table, render_value
from discover.identifiers import Identifier, try_normalise
from discover.mapping import LoadedMapping
from discover.register import Register, default_register
from discover.request import Request
from discover.sources import Settings, SourcesConfig

log = logging.getLogger(__name__)

RecordRef = tuple[str, str, str]  # source, location, key


@dataclass(slots=True)
class Trace:
    """How an identifier came to be searched: given, or found in a record."""

    identifier: Identifier
    depth: int
    parent: Identifier | None = None
    found_in: str | None = None
    searched: bool = False
    stopped: str | None = None

    def to_document(self) -> dict[str, Any]:
        return {
            "identifier": str(self.identifier),
            "depth": self.depth,
            "parent": str(self.parent) if self.parent else None,
            "found_in": self.found_in,
            "searched": self.searched,
            "stopped": self.stopped,
        }


@dataclass(slots=True)
class SourceStatus:
    """How one source fared in a search."""

    name: str
    kind: str
    status: str = "skipped"  # ok | failed | skipped
    error: str | None = None
    transient: bool = False
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    scans: int = 0
    rows_read: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "warnings": self.warnings,
            "truncated": self.truncated,
            "scans": self.scans,
            "rows_read": self.rows_read,
            "seconds": round(self.seconds, 4),
        }


@dataclass(slots=True)
class SearchResult:
    """The outcome of one subject's search."""

    request: Request
    hits: pa.Table
    sources: list[SourceStatus]
    traces: list[Trace]
    warnings: list[str]
    started_at: datetime
    finished_at: datetime

    @property
    def failed_sources(self) -> list[SourceStatus]:
        return [s for s in self.sources if s.failed]

    @property
    def complete(self) -> bool:
        """False when a source failed or reported a truncated result."""
        return not any(s.failed or s.truncated for s in self.sources)


@dataclass(slots=True)
class _Subject:
    request: Request
    traces: dict[Identifier, Trace] = field(default_factory=dict)
    pending: set[Identifier] = field(default_factory=set)
    records: dict[RecordRef, Record] = field(default_factory=dict)
    observed: dict[RecordRef, datetime] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


ProgressCallback = Callable[[str, int, int], None]


def open_connectors(
    sources: SourcesConfig,
    mappings: dict[str, LoadedMapping],
    register: Register,
) -> list[Connector]:
    """One connector per configured source (connections open lazily)."""
    connectors = []
    for source in sources.sources:
        cls = connector_class(source.kind)
        connectors.append(cls(source, mappings[source.name].model, register, sources.settings))
    return connectors


def search(
    request: Request,
    sources: SourcesConfig,
    *,
    register: Register | None = None,
    progress: ProgressCallback | None = None,
) -> SearchResult:
    """Search every source for one subject."""
    return search_many([request], sources, register=register, progress=progress)[0]


def search_many(
    requests: Sequence[Request],
    sources: SourcesConfig,
    *,
    register: Register | None = None,
    progress: ProgressCallback | None = None,
    connectors: Sequence[Connector] | None = None,
) -> list[SearchResult]:
    """Search every source for many subjects, one scan per source per round."""
    register = register or default_register()
    own_connectors = connectors is None
    if connectors is None:
        mappings = sources.load_mappings(register)
        connectors = open_connectors(sources, mappings, register)
    try:
        return _Rounds(requests, connectors, sources.settings, register, progress).run()
    finally:
        if own_connectors:
            for connector in connectors:
                connector.close()


class _Rounds:
    """The round loop shared by single and batch searches."""

    def __init__(
        self,
        requests: Sequence[Request],
        connectors: Sequence[Connector],
        settings: Settings,
        register: Register,
        progress: ProgressCallback | None,
    ) -> None:
        self.subjects = [_Subject(request) for request in requests]
        self.connectors = list(connectors)
        self.settings = settings
        self.register = register
        self.progress = progress
        self.statuses = {c.name: SourceStatus(c.name, c.kind) for c in self.connectors}
        self.checked: set[str] = set()
        for subject in self.subjects:
            for identifier in subject.request.identifiers:
                subject.traces[identifier] = Trace(identifier, depth=0)
                subject.pending.add(identifier)

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> list[SearchResult]:
        started = datetime.now(UTC)
        for depth in range(self.settings.max_depth + 1):
            round_ids = {id(s): set(s.pending) for s in self.subjects}
            wanted = set().union(*round_ids.values()) if round_ids else set()
            if not wanted:
                break
            for subject in self.subjects:
                for identifier in subject.pending:
                    subject.traces[identifier].searched = True
                subject.pending = set()
            results = self._scan_all(wanted)
            holders = _holders(results)
            for subject in self.subjects:
                mine = round_ids[id(subject)]
                self._distribute(subject, mine, results)
                self._guard(subject, mine, holders)
                self._expand(subject, depth)
        for subject in self.subjects:
            for trace in subject.traces.values():
                if not trace.searched and trace.stopped is None:
                    trace.stopped = f"depth limit ({self.settings.max_depth}) reached"
        finished = datetime.now(UTC)
        return [self._result(subject, started, finished) for subject in self.subjects]

    def _scan_all(self, wanted: set[Identifier]) -> dict[str, tuple[ScanResult, datetime]]:
        results: dict[str, tuple[ScanResult, datetime]] = {}
        total = len(self.connectors)
        for position, connector in enumerate(self.connectors, start=1):
            status = self.statuses[connector.name]
            if status.failed:
                continue
            types = connector.identifier_types()
            identifiers = sorted(i for i in wanted if i.type in types)
            if not identifiers:
                continue
            if self.progress:
                self.progress(connector.name, position, total)
            started = clock.perf_counter()
            try:
                if connector.name not in self.checked:
                    connector.check()
                    self.checked.add(connector.name)
                result = connector.scan(identifiers)
            except SourceError as exc:
                status.status, status.error, status.transient = "failed", exc.message, exc.transient
                log.warning("source %s failed: %s", connector.name, exc.message)
                continue
            except Exception as exc:  # a connector bug must not lose the other sources
                status.status, status.error = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("source %s failed unexpectedly", connector.name)
                continue
            finally:
                status.seconds += clock.perf_counter() - started
            status.status = "ok"
            status.scans += 1
            status.rows_read += result.rows_read
            status.truncated = status.truncated or result.truncated
            status.warnings.extend(w for w in result.warnings if w not in status.warnings)
            log.info(
                "source %s: %d records for %d identifiers",
                connector.name,
                len(result.records),
                len(identifiers),
            )
            results[connector.name] = (result, datetime.now(UTC))
        return results

    # -- sharing records out to subjects ----------------------------------------------

    def _distribute(
        self,
        subject: _Subject,
        mine: set[Identifier],
        results: dict[str, tuple[ScanResult, datetime]],
    ) -> None:
        for source, (result, observed) in results.items():
            children: dict[tuple[str, str], list[Record]] = defaultdict(list)
            for record in result.records:
                for link in record.links:
                    children[(link.location, link.key)].append(record)
            reached: dict[tuple[str, str], Record] = {}
            queue: list[Record] = []
            for record in result.records:
                matches = [m for m in record.matches if m.identifier in mine]
                if matches:
                    reached[record.ref] = replace(record, matches=matches, links=[])
                    queue.append(record)
            while queue:
                parent = queue.pop()
                for child in children.get(parent.ref, []):
                    view = reached.get(child.ref)
                    if view is None:
                        view = replace(child, matches=[], links=[])
                        reached[child.ref] = view
                        queue.append(child)
                    for link in child.links:
                        if (link.location, link.key) == parent.ref and link not in view.links:
                            view.links.append(link)
            for ref, view in reached.items():
                key = (source, *ref)
                existing = subject.records.get(key)
                if existing is None:
                    subject.records[key] = view
                    subject.observed[key] = observed
                    continue
                existing.matches.extend(m for m in view.matches if m not in existing.matches)
                existing.links.extend(link for link in view.links if link not in existing.links)

    # -- the shared-identifier guard --------------------------------------------------

    def _guard(
        self, subject: _Subject, mine: set[Identifier], holders: dict[Identifier, int]
    ) -> None:
        stopped: set[Identifier] = set()
        for identifier in mine:
            count = holders.get(identifier, 0)
            if count <= self.settings.max_holders:
                continue
            trace = subject.traces[identifier]
            if trace.depth == 0:
                subject.warnings.append(
                    f"{identifier.type} given in the request matches {count} person records "
                    "in one location; it may be shared (kept, as it was given)"
                )
                continue
            trace.stopped = (
                f"shared: held by {count} person records in one location "
                f"(more than {self.settings.max_holders}); "
                "its records are left out and it is not expanded"
            )
            stopped.add(identifier)
        if stopped:
            for record in subject.records.values():
                record.matches = [m for m in record.matches if m.identifier not in stopped]
            _prune(subject)

    # -- identity expansion -----------------------------------------------------------

    def _expand(self, subject: _Subject, depth: int) -> None:
        for (source, location, key), record in sorted(subject.records.items()):
            strong = [
                m
                for m in record.matches
                if not m.identifier.weak and subject.traces[m.identifier].stopped is None
            ]
            if not strong:
                continue
            parent = min(strong, key=lambda m: (subject.traces[m.identifier].depth, m.identifier))
            for value in record.fields:
                spec = value.spec
                if not spec.expandable or value.value is None or value.value is WITHHELD:
                    continue
                normalised = try_normalise(spec.identifier, value.value)
                if normalised is None:
                    continue
                found = Identifier(spec.identifier, normalised)
                if found in subject.traces:
                    continue
                subject.traces[found] = Trace(
                    found,
                    depth=depth + 1,
                    parent=parent.identifier,
                    found_in=f"{source}:{location}[{key}].{spec.name}",
                )
                if depth + 1 <= self.settings.max_depth:
                    subject.pending.add(found)

    # -- hits -------------------------------------------------------------------------

    def _result(self, subject: _Subject, started: datetime, finished: datetime) -> SearchResult:
        rows = list(self._hit_rows(subject))
        return SearchResult(
            request=subject.request,
            hits=hits_table(rows),
            sources=[replace(s, warnings=list(s.warnings)) for s in self.statuses.values()],
            traces=sorted(subject.traces.values(), key=lambda t: (t.depth, t.identifier)),
            warnings=list(subject.warnings),
            started_at=started,
            finished_at=finished,
        )

    def _via(self, subject: _Subject, identifier: Identifier) -> str:
        chain: list[str] = []
        trace: Trace | None = subject.traces[identifier]
        while trace is not None:
            chain.append(str(trace.identifier))
            if trace.found_in:
                chain.append(trace.found_in)
            trace = subject.traces[trace.parent] if trace.parent else None
        return " -> ".join(reversed(chain))

    def _hit_rows(self, subject: _Subject) -> Iterable[dict[str, Any]]:
        classes = _classify(subject)
        now = datetime.now(UTC)
        for ref in sorted(subject.records):
            record = subject.records[ref]
            source = ref[0]
            match, roots, path = classes[ref]
            root_ids = sorted({m.identifier for root in roots for m in root.matches})
            best = min(root_ids, key=lambda i: (subject.traces[i].depth, i))
            via = self._via(subject, best)
            if path:
                via = f"{via} -> {' -> '.join(path)}"
            matched_fields = {m.field for m in record.matches}
            recorded_at = _utc(record.recorded_at)
            for value in record.fields:
                if value.value is None:
                    continue
                spec = value.spec
                category = self.register.category(spec.category)
                secret = spec.secret or value.value is WITHHELD
                text, value_type = (None, "text") if secret else render_value(value.value)
                expires = category.retention.expires(recorded_at) if recorded_at else None
                yield {
                    "request_id": subject.request.request_id,
                    "source": source,
                    "location": record.location,
                    "record_key": record.key,
                    "field": spec.name,
                    "value": text,
                    "value_type": value_type,
                    "identifier": spec.identifier,
                    "category": spec.category,
                    "service": category.service,
                    "matched_on": "; ".join(str(i) for i in root_ids),
                    "match": match,
                    "via": via,
                    "observed_at": subject.observed[ref],
                    "recorded_at": recorded_at,
                    "overdue": bool(expires and expires < now),
                    "controller": category.controller,
                    "legal_basis": category.legal_basis,
                    "portable": category.portable,
                    "secret": secret,
                    "third_party": record.third_party
                    or (spec.third_party and spec.name not in matched_fields),
                }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _holders(results: dict[str, tuple[ScanResult, datetime]]) -> dict[Identifier, int]:
    """Per identifier: the most person records it matched directly in any one location."""
    per_location: dict[tuple[Identifier, str, str], set[str]] = defaultdict(set)
    for source, (result, _observed) in results.items():
        for record in result.records:
            if record.entity != "person":
                continue
            for match in record.matches:
                per_location[(match.identifier, source, record.location)].add(record.key)
    holders: dict[Identifier, int] = defaultdict(int)
    for (identifier, _source, _location), keys in per_location.items():
        holders[identifier] = max(holders[identifier], len(keys))
    return holders


def _prune(subject: _Subject) -> None:
    """Drop records no longer reached from a matched record (after the guard)."""
    alive = {ref for ref, record in subject.records.items() if record.matches}
    changed = True
    while changed:
        changed = False
        for ref, record in subject.records.items():
            if ref in alive:
                continue
            if any((ref[0], link.location, link.key) in alive for link in record.links):
                alive.add(ref)
                changed = True
    for ref in list(subject.records):
        if ref not in alive:
            del subject.records[ref]
            subject.observed.pop(ref, None)
    for ref, record in subject.records.items():
        record.links = [
            link for link in record.links if (ref[0], link.location, link.key) in subject.records
        ]


def _direct_class(subject: _Subject, matches: list[Match]) -> str:
    if all(m.identifier.weak for m in matches):
        return "possible"
    strong = [m for m in matches if not m.identifier.weak]
    given = [m for m in strong if subject.traces[m.identifier].depth == 0]
    if given:
        return "exact" if any(m.exact for m in given) else "normalised"
    return "expanded"


def _classify(subject: _Subject) -> dict[RecordRef, tuple[str, list[Record], list[str]]]:
    """Each record's match kind, the directly matched records it hangs from, and the path."""
    classes: dict[RecordRef, tuple[str, list[Record], list[str]]] = {}
    for ref, record in subject.records.items():
        if record.matches:
            classes[ref] = (_direct_class(subject, record.matches), [record], [])
    # Related records: breadth-first from the matched ones, strongest parents first.
    frontier = sorted(classes, key=lambda r: MATCH_KINDS.index(classes[r][0]))
    by_parent: dict[RecordRef, list[tuple[RecordRef, Link]]] = defaultdict(list)
    for ref, record in subject.records.items():
        for link in record.links:
            by_parent[(ref[0], link.location, link.key)].append((ref, link))
    while frontier:
        next_frontier: list[RecordRef] = []
        for parent_ref in frontier:
            parent_class, roots, path = classes[parent_ref]
            for child_ref, link in by_parent.get(parent_ref, []):
                if child_ref in classes:
                    continue
                kind = "possible" if parent_class == "possible" else "related"
                step = f"{link.relation} -> {child_ref[1]}[{child_ref[2]}]"
                classes[child_ref] = (kind, roots, [*path, step])
                next_frontier.append(child_ref)
        frontier = next_frontier
    return classes
