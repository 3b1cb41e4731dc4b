"""The engine: a request in, every configured source searched, one hits table out.

It runs in rounds. Round 0 searches the request's identifiers. Identifiers found in
records that matched strongly (a contact row found by e-mail holds the mobile
number) are searched in the next round, each with its provenance. Every identifier
is judged (:mod:`discover.holders`) on all the records every source returned for
it, before anything is expanded from it. Expansion stops

* at organisation identifiers (held by an organisation record, in an
  organisation-level field, or a role mailbox): a record reached only through one is
  left out, one that also matches the subject's name is ``possible``;
* at shared identifiers (held by person records of different people, or by more
  than ``max_holders`` person records in one location): a record holding only it
  is ``possible`` unless another strong identifier ties it to the subject;
* at fields a mapping marks ``expand: false``, secrets and other people's
  (``third_party``) fields — and a record found only through such a field (the
  other party of someone's call) is not the subject's own record, so nothing in it
  is expanded either;
* at weak identifiers (a name or postcode alone only makes a match "possible");
* at ``max_depth`` rounds.

Each record gets one match kind, the strongest that applies: ``exact`` / ``normalised``
(a given identifier, stored as given or in another spelling), ``expanded`` (an
identifier found along the way), ``related`` (reached through a declared relation
from a strongly matched record), ``possible`` (a weak identifier only, or related to
such a record only).

The rounds work on many subjects at once (:func:`search_many`): each source is
scanned once per round for the union of every subject's new identifiers and the
records are shared out by the identifiers that matched them. A single search is a
batch of one, so batch and single results are the same by construction.

A source that fails is named in the result with its error; the others still run
and the result says it is incomplete.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import sys
import threading
import time as clock
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from connectors import AHEAD_KINDS, connector_class, load_mapping
from connectors.base import (
    WITHHELD,
    Connector,
    FieldValue,
    Match,
    Record,
    ScanResult,
    normalised_text,
)
from connectors.heap import builds_running
from discover.clients import ClientDirectory
from discover.errors import SourceError, kind_label, shown_value
from discover.hit_values import MATCH_KINDS, embedded_image, render_value
from discover.holders import Verdict, judge
from discover.identifiers import Identifier, read_imsi_database_ahead
from discover.mapping import LoadedMapping, resolve_file
from discover.register import Register, default_register
from discover.request import Request
from discover.sources import Settings, SourceConfig, SourcesConfig
from discover.time_limit import TimeLimitExceeded, abandoned, limit_of, run_within

if TYPE_CHECKING:
    import pyarrow as pa

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
    #: the client organisation whose data the source holds (name and contact details
    #: from the sources file): the controller of its client categories in packages
    client: dict[str, str] | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_document(self) -> dict[str, Any]:
        return {
            **({"client": self.client} if self.client else {}),
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
    #: identifiers judged not the subject's own (organisation, shared), with the reason
    stopped: list[dict[str, Any]] = field(default_factory=list)
    #: places of stored identifier values no rule could read
    unreadable: list[str] = field(default_factory=list)
    #: the client organisations the hits name: name -> name and contact details
    clients: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def failed_sources(self) -> list[SourceStatus]:
        return [s for s in self.sources if s.failed]

    @property
    def complete(self) -> bool:
        """False when a source failed or reported a truncated result, or when the
        request held an identifier that could not be read (it was not searched)."""
        return not self.request.rejected and not any(s.failed or s.truncated for s in self.sources)

    def summary_fields(self) -> dict[str, Any]:
        """What the case summary adds about identifiers: those stopped and why, those
        the request gave that could not be read, and the unreadable stored values."""
        return {
            "stopped_identifiers": list(self.stopped),
            "rejected_identifiers": [r.to_document() for r in self.request.rejected],
            "unreadable_values": len(self.unreadable),
            "clients": {name: dict(self.clients[name]) for name in sorted(self.clients)},
        }


@dataclass(slots=True)
class _Subject:
    request: Request
    traces: dict[Identifier, Trace] = field(default_factory=dict)
    pending: set[Identifier] = field(default_factory=set)
    records: dict[RecordRef, Record] = field(default_factory=dict)
    observed: dict[RecordRef, datetime] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: identifiers judged shared: their matches count as weak
    shared: set[Identifier] = field(default_factory=set)
    stops: dict[Identifier, Verdict] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _SourceRound:
    """One source's scan in one round, indexed once for every subject of the batch."""

    source: str
    observed: datetime
    by_identifier: dict[Identifier, list[Record]]
    children: dict[tuple[str, str], list[Record]]  # parent (location, key) -> records

    @classmethod
    def index(cls, source: str, result: ScanResult, observed: datetime) -> _SourceRound:
        by_identifier: dict[Identifier, list[Record]] = defaultdict(list)
        children: dict[tuple[str, str], list[Record]] = defaultdict(list)
        for record in result.records:
            for identifier in dict.fromkeys(m.identifier for m in record.matches):
                by_identifier[identifier].append(record)
            for link in record.links:
                children[(link.location, link.key)].append(record)
        return cls(source, observed, by_identifier, children)


@dataclass(slots=True)
class _Outcome:
    """What one scan gave: its result or its error, and the time it took."""

    result: ScanResult | None
    error: Exception | None
    seconds: float
    #: the source's time limit the scan ran under
    limit: float


@dataclass(slots=True)
class _Ahead:
    """A scan of ``connector`` started before its round (``depth``), for the identifiers
    it was given."""

    depth: int
    connector: Connector
    identifiers: list[Identifier]
    future: Future[_Outcome]


def _scratch_copy(subject: _Subject) -> _Subject:
    """A copy of a subject the end of a round can be tried on: everything a round's
    end changes (traces, records' matches and links, what is shared or stopped) is
    copied, the records' fields are shared (a round never changes them)."""
    return _Subject(
        request=subject.request,
        traces={identifier: replace(trace) for identifier, trace in subject.traces.items()},
        pending=set(subject.pending),
        records={
            ref: replace(record, matches=list(record.matches), links=list(record.links))
            for ref, record in subject.records.items()
        },
        observed=dict(subject.observed),
        warnings=list(subject.warnings),
        shared=set(subject.shared),
        stops=dict(subject.stops),
        unreadable=list(subject.unreadable),
    )


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


def _open_ahead_first(sources: SourcesConfig, register: Register) -> list[Connector]:
    """Every source's connector, in the sources file's order, once every mapping loaded.

    The sources of :data:`~connectors.registry.AHEAD_KINDS` open first and start
    their identifier-free work (:meth:`~connectors.base.Connector.start_ahead`), which
    then runs beside the loading of the other mappings and their kinds' libraries. A
    malformed mapping still raises before any source is searched; what was started
    ahead is dropped.
    """

    def opened(source: SourceConfig) -> Connector:
        loaded = load_mapping(
            source.mapping_path, register, expected_kind=source.kind, overrides=source.overrides
        )
        return connector_class(source.kind)(source, loaded.model, register, sources.settings)

    ahead: dict[str, Connector] = {}
    try:
        for source in sources.sources:
            if source.kind in AHEAD_KINDS:
                ahead[source.name] = opened(source)
                ahead[source.name].start_ahead()
        others = {
            source.name: opened(source) for source in sources.sources if source.name not in ahead
        }
    except BaseException:
        for connector in ahead.values():
            connector.close()
        raise
    return [ahead.get(source.name) or others[source.name] for source in sources.sources]


def search(
    request: Request,
    sources: SourcesConfig,
    *,
    register: Register | None = None,
    progress: ProgressCallback | None = None,
    connectors: Sequence[Connector] | None = None,
    ready: Callable[[], None] | None = None,
) -> SearchResult:
    """Search every source for one subject."""
    return search_many(
        [request],
        sources,
        register=register,
        progress=progress,
        connectors=connectors,
        ready=ready,
    )[0]


def search_many(
    requests: Sequence[Request],
    sources: SourcesConfig,
    *,
    register: Register | None = None,
    progress: ProgressCallback | None = None,
    connectors: Sequence[Connector] | None = None,
    ready: Callable[[], None] | None = None,
) -> list[SearchResult]:
    """Search every source for many subjects, one scan per source per round.

    Given ``connectors`` are used as they are and left open (a caller that searches
    repeatedly keeps its connections); otherwise they are opened and closed here,
    after every mapping has loaded: a malformed one raises before any source is touched.
    ``ready`` is called once the mappings have loaded and the connectors are open, just
    before the first scan (the command line settles its garbage collector there).
    """
    register = register or default_register()
    own_connectors = connectors is None
    if connectors is None:
        connectors = _open_ahead_first(sources, register)
    try:
        if ready is not None:
            ready()
        if any(_takes(connector, "imsi") for connector in connectors):
            read_imsi_database_ahead()
        return _Rounds(
            requests, connectors, sources.settings, register, progress, sources.clients
        ).run()
    finally:
        if own_connectors:
            for connector in connectors:
                if abandoned(connector):  # its state belongs to a thread still stuck in it
                    continue
                try:
                    connector.close()
                except Exception:  # a failing close must not hide the result
                    log.exception("source %s did not close cleanly", connector.name)


#: what builds the hits table and writes it to a case: pyarrow (about 0.1 s to load)
HITS_MODULES = ("discover.hits", "pyarrow.parquet")


def load_hits_ahead() -> None:
    """Load the hits table's modules in the background, once a search starts its next
    round's scans ahead (a worker was free: the round's last scans were waiting on
    databases and files), while the table is only built when the scans are done.
    Loading them first would hold up the first round's scans by as long; whoever needs
    them before the loading ends waits for it (the import lock), and a failure to load
    is met there again. A search that does not look ahead loads them at its end."""
    if all(name in sys.modules for name in HITS_MODULES):
        return

    def load() -> None:
        for name in HITS_MODULES:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=load, name="hits-modules", daemon=True).start()


def _takes(connector: Connector, kind: str) -> bool:
    """Whether a source is searched by identifiers of type ``kind`` (a connector bug
    is left for its scan to meet and report)."""
    try:
        return kind in connector.identifier_types()
    except Exception:
        return False


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that puts ``id=4`` before ``id=31``."""
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", text)
        if part
    )


def _ref_order(ref: RecordRef) -> tuple[str, str, tuple[tuple[int, int, str], ...]]:
    return (ref[0], ref[1], natural_key(ref[2]))


def _client_of(connector: Connector) -> dict[str, str] | None:
    """The client organisation a connector's source holds data for (a wrapping
    connector, such as a batch's counting one, may not carry its source)."""
    source = getattr(connector, "source", None)
    document = getattr(source, "client_document", None)
    return document() if callable(document) else None


class _Rounds:
    """The round loop shared by single and batch searches."""

    def __init__(
        self,
        requests: Sequence[Request],
        connectors: Sequence[Connector],
        settings: Settings,
        register: Register,
        progress: ProgressCallback | None,
        clients: ClientDirectory | None = None,
    ) -> None:
        self.subjects = [_Subject(request) for request in requests]
        self.connectors = list(connectors)
        self.settings = settings
        self.register = register
        self.progress = progress
        self.statuses = {
            c.name: SourceStatus(c.name, c.kind, client=_client_of(c)) for c in self.connectors
        }
        #: whom a record's client field or place names (the sources file's clients)
        self.clients = clients or ClientDirectory()
        self.checked: set[str] = set()
        #: the judgement on each identifier searched, the same for every subject
        self.verdicts: dict[Identifier, Verdict | None] = {}
        #: scans started ahead of their round, by source (see :meth:`_scan_ahead`)
        self.ahead: dict[str, _Ahead] = {}
        #: a single subject's search starts next-round scans early; a batch keeps every
        #: worker busy with its own round anyway
        self.look_ahead = settings.scan_ahead and len(self.subjects) == 1
        self.own_use = register.own_use_categories()
        for subject in self.subjects:
            subject.warnings.extend(subject.request.notes)
            for identifier in subject.request.identifiers:
                subject.traces[identifier] = Trace(identifier, depth=0)
                subject.pending.add(identifier)

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> list[SearchResult]:
        started = datetime.now(UTC)
        for connector in self.connectors:
            if abandoned(connector):  # its state belongs to a thread still stuck in it
                continue
            connector.begin_search()
        workers = max(1, min(self.settings.parallel_sources, len(self.connectors)))
        if workers == 1:
            self._rounds(None, 1)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan") as pool:
                try:
                    self._rounds(pool, workers)
                finally:
                    self._drop_ahead()
        for subject in self.subjects:
            for trace in subject.traces.values():
                if not trace.searched and trace.stopped is None:
                    trace.stopped = f"depth limit ({self.settings.max_depth}) reached"
        finished = datetime.now(UTC)
        return [self._result(subject, started, finished) for subject in self.subjects]

    def _rounds(self, pool: ThreadPoolExecutor | None, workers: int) -> None:
        for depth in range(self.settings.max_depth + 1):
            round_ids = [set(subject.pending) for subject in self.subjects]
            wanted = set().union(*round_ids)
            if not wanted:
                break
            for subject in self.subjects:
                for identifier in subject.pending:
                    subject.traces[identifier].searched = True
                subject.pending = set()
            if pool is None:
                rounds = self._scan_in_turn(wanted)
            else:
                rounds = self._scan_side_by_side(wanted, round_ids, depth, pool, workers)
            self._judge(wanted, rounds)
            for subject, mine in zip(self.subjects, round_ids, strict=True):
                self._distribute(subject, mine, rounds)
                self._guard(subject, mine)
                self._expand(subject, depth)

    def _jobs(self, wanted: set[Identifier]) -> list[tuple[Connector, list[Identifier]]]:
        """Every source that takes one of ``wanted``'s types, with the identifiers it takes."""
        total = len(self.connectors)
        jobs: list[tuple[Connector, list[Identifier]]] = []
        for position, connector in enumerate(self.connectors, start=1):
            identifiers = self._taken_by(connector, wanted)
            if not identifiers:
                continue
            if self.progress:
                self.progress(connector.name, position, total)
            jobs.append((connector, identifiers))
        return jobs

    def _taken_by(self, connector: Connector, wanted: set[Identifier]) -> list[Identifier]:
        """The identifiers of ``wanted`` a source is searched for (none once it failed)."""
        if self.statuses[connector.name].failed:
            return []
        try:
            types = connector.identifier_types()
        except Exception as exc:  # a connector bug must not lose the other sources
            self._failed_unexpectedly(connector, exc)
            return []
        return sorted(i for i in wanted if i.type in types)

    def _scan_in_turn(self, wanted: set[Identifier]) -> list[_SourceRound]:
        """One round, one source after another (``parallel_sources: 1``)."""
        outcomes = [
            self._record(connector, identifiers, self._run_scan(connector, identifiers))
            for connector, identifiers in self._jobs(wanted)
        ]
        return [outcome for outcome in outcomes if outcome is not None]

    def _scan_side_by_side(
        self,
        wanted: set[Identifier],
        round_ids: list[set[Identifier]],
        depth: int,
        pool: ThreadPoolExecutor,
        workers: int,
    ) -> list[_SourceRound]:
        """One round: every source that takes one of ``wanted``'s types, scanned.

        Sources are independent, and most of a scan's time is spent outside Python
        (a database query, a workbook parsed by calamine, files stat'ed), so up to
        ``workers`` of them are scanned at the same time; results are taken in the
        sources' order, so the outcome does not depend on which ends first. Sources
        that parse a whole file in memory start first (:meth:`_starts_first`).

        A scan started ahead for this round with exactly the identifiers this round
        gives the source is this round's scan; one started with others is waited for
        and dropped before the source is scanned again. When every scan of this round
        has started and a worker is free, the next round's scans start ahead
        (:meth:`_scan_ahead`).
        """
        jobs = self._jobs(wanted)
        rounds: list[_SourceRound | None] = [None] * len(jobs)
        running: dict[Future[_Outcome], int] = {}
        waiting: list[int] = []
        for number, (connector, identifiers) in enumerate(jobs):
            ahead = self.ahead.get(connector.name)
            if ahead is not None and ahead.depth == depth and ahead.identifiers == identifiers:
                del self.ahead[connector.name]
                running[ahead.future] = number  # this round's scan, already under way
            else:
                waiting.append(number)
        waiting.sort(key=lambda number: (not self._starts_first(jobs[number][0]), number))
        while waiting or running:
            for number in list(waiting):
                if len(running) + len(self._ahead_running()) >= workers:
                    break
                connector, identifiers = jobs[number]
                if not self._drop_ahead(connector.name):
                    continue  # a scan started ahead with other identifiers: after it
                waiting.remove(number)
                if self.statuses[connector.name].failed:
                    continue  # that scan ran past the source's time limit
                running[pool.submit(self._run_scan, connector, identifiers)] = number
            if not waiting and depth + 1 <= self.settings.max_depth:
                free = workers - len(running) - len(self._ahead_running())
                if free > 0:
                    done = [r for r in rounds if r is not None]
                    busy = {jobs[number][0].name for number in running.values()}
                    self._scan_ahead(wanted, round_ids, depth, done, busy, pool, free)
            pending = set(running) | self._ahead_running()
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                number = running.pop(future, None)
                if number is not None:
                    connector, identifiers = jobs[number]
                    rounds[number] = self._record(connector, identifiers, future.result())
        return [outcome for outcome in rounds if outcome is not None]

    def _starts_first(self, connector: Connector) -> bool:
        """Whether a source's scan starts before the others of its round (a whole file
        parsed in memory peaks lower while less else is held); results keep the
        sources' order whatever the order the scans start in."""
        try:
            return connector.starts_first()
        except Exception:  # a hint only: a connector bug is met again when it scans
            return False

    def _ahead_running(self) -> set[Future[_Outcome]]:
        """The scans started ahead that still hold a worker."""
        return {ahead.future for ahead in self.ahead.values() if not ahead.future.done()}

    def _scan_ahead(
        self,
        wanted: set[Identifier],
        round_ids: list[set[Identifier]],
        depth: int,
        done: list[_SourceRound],
        busy: set[str],
        pool: ThreadPoolExecutor,
        free: int,
    ) -> None:
        """Start next-round scans before this round ends, on ``free`` idle workers.

        The next round's identifiers are those this round's finished scans give,
        found by the very steps the round ends with (judging, sharing out, guarding,
        expanding), taken on a copy of the subject. A source still scanning this
        round (``busy``), or with nothing to search, is left for later. Sources never scanned
        go first (their cost is unknown), then the slowest so far. A scan whose
        identifiers turn out not to be the next round's is dropped unused: looking
        ahead costs work, never a result. Nothing starts ahead while a source builds
        its index (the first search of an estate): the memory of two builds would add
        up.
        """
        if not self.look_ahead or builds_running():
            return  # a first search builds one round's indexes, not two rounds' at once
        idle = [
            (position, connector)
            for position, connector in enumerate(self.connectors)
            if connector.name not in busy
            and connector.name not in self.ahead
            and not abandoned(connector)
        ]
        if not idle:
            return  # nothing could start: the next round is not worked out for nothing
        try:
            predicted = self._next_identifiers(wanted, round_ids[0], depth, done)
        except Exception:  # looking ahead must never cost the search: the round decides
            log.debug("the next round could not be found ahead", exc_info=True)
            return
        if not predicted:
            return
        candidates = []
        for position, connector in idle:
            identifiers = self._taken_by(connector, predicted)
            if identifiers:
                status = self.statuses[connector.name]
                order = (status.scans > 0, -status.seconds, position)
                candidates.append((order, connector, identifiers))
        candidates.sort(key=lambda candidate: candidate[0])
        if candidates:
            load_hits_ahead()
        for _order, connector, identifiers in candidates[:free]:
            future = pool.submit(self._run_scan, connector, identifiers)
            self.ahead[connector.name] = _Ahead(depth + 1, connector, identifiers, future)
            log.debug("source %s: next round started ahead", connector.name)

    def _next_identifiers(
        self, wanted: set[Identifier], mine: set[Identifier], depth: int, done: list[_SourceRound]
    ) -> set[Identifier]:
        """The identifiers the next round would search if this round's other scans
        found nothing: this round's end, run on a copy of the (single) subject."""
        subject = _scratch_copy(self.subjects[0])
        verdicts = self.verdicts
        self.verdicts = dict(verdicts)
        try:
            self._judge(wanted, done)
            self._distribute(subject, mine, done)
            self._guard(subject, mine)
            self._expand(subject, depth)
        finally:
            self.verdicts = verdicts
        return subject.pending

    def _drop_ahead(self, name: str | None = None) -> bool:
        """Drop scans started ahead and not used (of source ``name``, or all of them).

        False while one of them is still going (``name`` given: it is left to end);
        with no name, waits for each to end. A dropped scan that ran past its time
        limit still fails its source: the source did hang, and it is abandoned.
        """
        names = [name] if name is not None else list(self.ahead)
        for each in names:
            ahead = self.ahead.get(each)
            if ahead is None:
                continue
            if name is not None and not ahead.future.done():
                return False
            outcome = ahead.future.result()
            del self.ahead[each]
            if isinstance(outcome.error, TimeLimitExceeded):
                self._record(ahead.connector, ahead.identifiers, outcome)
        return True

    def _run_scan(self, connector: Connector, identifiers: list[Identifier]) -> _Outcome:
        """One source's scan within the time it has left; nothing recorded yet."""
        status = self.statuses[connector.name]
        limit = limit_of(connector, self.settings.time_limit)
        started = clock.perf_counter()
        try:
            result = run_within(
                connector,
                limit - status.seconds,
                partial(self._check_and_scan, connector, identifiers),
            )
        except Exception as exc:
            return _Outcome(None, exc, clock.perf_counter() - started, limit)
        return _Outcome(result, None, clock.perf_counter() - started, limit)

    def _record(
        self, connector: Connector, identifiers: list[Identifier], outcome: _Outcome
    ) -> _SourceRound | None:
        """A scan's outcome in its source's status; its records, or None when it failed."""
        status = self.statuses[connector.name]
        status.seconds += outcome.seconds
        error, result = outcome.error, outcome.result
        if isinstance(error, TimeLimitExceeded):
            status.status, status.transient = "failed", True
            status.error = (
                f"timed out: not done within its time limit of {outcome.limit:g} s "
                "(time_limit in the sources file); abandoned"
            )
            log.warning("source %s timed out after %g s", connector.name, outcome.limit)
            return None
        if isinstance(error, SourceError):
            status.status, status.error, status.transient = "failed", error.message, error.transient
            log.warning("source %s failed: %s", connector.name, error.message)
            return None
        if error is not None or result is None:  # a connector bug must not lose the others
            self._failed_unexpectedly(connector, error or RuntimeError("no scan result"))
            return None
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
        return _SourceRound.index(connector.name, result, datetime.now(UTC))

    def _failed_unexpectedly(self, connector: Connector, exc: Exception) -> None:
        """A connector bug: its source is failed, with the error and its traceback in the
        log, and the other sources go on."""
        status = self.statuses[connector.name]
        status.status, status.error = "failed", f"{type(exc).__name__}: {exc}"
        log.error("source %s failed unexpectedly", connector.name, exc_info=exc)

    def _check_and_scan(self, connector: Connector, identifiers: list[Identifier]) -> ScanResult:
        if connector.name not in self.checked:
            connector.check()
            self.checked.add(connector.name)
        return connector.scan(identifiers)

    # -- sharing records out to subjects ----------------------------------------------

    def _distribute(
        self, subject: _Subject, mine: set[Identifier], rounds: list[_SourceRound]
    ) -> None:
        """Give the subject the records its identifiers matched, and what hangs from them.

        Each record is a copy holding only this subject's matches and only the links
        to records this subject reached, so nothing of another subject leaks in.
        Relations are not followed through an organisation's record: a relation
        declared both ways would otherwise reach every colleague.
        """
        for scan in rounds:
            reached: dict[tuple[str, str], Record] = {}
            queue: list[Record] = []
            for identifier in sorted(mine):
                for record in scan.by_identifier.get(identifier, ()):
                    if record.ref not in reached:
                        matches = [m for m in record.matches if m.identifier in mine]
                        reached[record.ref] = replace(record, matches=matches, links=[])
                        queue.append(record)
            while queue:
                parent = queue.pop()
                if parent.entity == "organisation":
                    # the subject's organisation is related to the subject; what hangs
                    # from it (its other contacts, its lines) is the organisation's and
                    # its other people's, never the subject's
                    continue
                for child in scan.children.get(parent.ref, ()):
                    view = reached.get(child.ref)
                    if view is None:
                        view = reached[child.ref] = replace(child, matches=[], links=[])
                        queue.append(child)
                    for link in child.links:
                        if (link.location, link.key) == parent.ref and link not in view.links:
                            view.links.append(link)
            for (location, key), view in reached.items():
                ref = (scan.source, location, key)
                existing = subject.records.get(ref)
                if existing is None:
                    subject.records[ref] = view
                    subject.observed[ref] = scan.observed
                    continue
                existing.matches.extend(m for m in view.matches if m not in existing.matches)
                existing.links.extend(link for link in view.links if link not in existing.links)

    # -- organisation and shared identifiers ------------------------------------------

    def _judge(self, wanted: set[Identifier], rounds: list[_SourceRound]) -> None:
        """Judge each newly searched identifier on what every source returned for it."""
        for identifier in sorted(wanted):
            if identifier in self.verdicts or identifier.weak:
                continue  # a name alone only ever makes a record possible
            holdings = [(scan.source, scan.by_identifier.get(identifier, ())) for scan in rounds]
            self.verdicts[identifier] = judge(
                identifier,
                holdings,
                max_holders=self.settings.max_holders,
                role_mailboxes=self.settings.role_mailboxes,
            )

    def _guard(self, subject: _Subject, mine: set[Identifier]) -> None:
        """Apply the verdicts to the subject's records before anything is expanded.

        An organisation identifier's matches are taken away (a record with nothing
        else left goes, one with the subject's name stays ``possible``); a shared
        identifier's matches stay but count as weak.
        """
        organisation: set[Identifier] = set()
        for identifier in sorted(mine):
            verdict = self.verdicts.get(identifier)
            if verdict is None:
                continue
            trace = subject.traces[identifier]
            subject.stops[identifier] = verdict
            label = kind_label(identifier.type)
            if verdict.kind == "organisation":
                organisation.add(identifier)
                trace.stopped = (
                    f"organisation identifier: {verdict.reason}; not expanded, and no record "
                    "counts as the subject's through it"
                )
            else:
                subject.shared.add(identifier)
                trace.stopped = (
                    f"shared: {verdict.reason}; not expanded, and a record holding only it "
                    "is possible"
                )
            if trace.depth == 0:
                subject.warnings.append(
                    f"the {label} given in the request is not the subject's alone "
                    f"({verdict.kind}: {verdict.reason}); records found only through it "
                    + ("are left out" if verdict.kind == "organisation" else "are possible")
                )
        if organisation:
            for record in subject.records.values():
                record.matches = [m for m in record.matches if m.identifier not in organisation]
            _prune(subject)

    # -- identity expansion -----------------------------------------------------------

    def _expands(self, subject: _Subject, record: Record) -> list[Match]:
        """The matches that make a record the subject's own: strong, not stopped, and
        not in a field that identifies someone else."""
        not_own = {v.spec.name for v in record.fields if v.spec.third_party or v.spec.organisation}
        return [
            m
            for m in record.matches
            if not m.identifier.weak
            and m.identifier not in subject.shared
            and subject.traces[m.identifier].stopped is None
            and m.field not in not_own
        ]

    def _expand(self, subject: _Subject, depth: int) -> None:
        for ref in sorted(subject.records, key=_ref_order):
            record = subject.records[ref]
            own = self._expands(subject, record)
            if not own:
                continue
            parent = min(own, key=lambda m: (subject.traces[m.identifier].depth, m.identifier))
            source, location, key = ref
            for value in record.fields:
                spec = value.spec
                if spec.identifier is None or spec.secret or spec.third_party:
                    continue
                if value.value is None or value.value is WITHHELD:
                    continue
                normalised = normalised_text(spec.identifier, value.value)
                if normalised is None:
                    # the subject's own value, unreadable (a float ICCID, a phone number
                    # no plan accepts): listed with its place, never silently dropped
                    self._unreadable(subject, f"{source}:{location}[{key}].{spec.name}", value)
                    continue
                if not spec.expandable:
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

    @staticmethod
    def _unreadable(subject: _Subject, place: str, value: FieldValue) -> None:
        """A stored identifier no rule reads (a phone no numbering plan accepts): listed
        with its place, like a damaged ICCID, instead of silently not searched."""
        if place in subject.unreadable or not str(value.value).strip():
            return
        subject.unreadable.append(place)
        label = kind_label(str(value.spec.identifier))
        subject.warnings.append(
            f"{place}: stored value {str(value.value)[:60]!r} cannot be read as {label} "
            "(no rule accepts it); it was not searched"
        )

    # -- hits -------------------------------------------------------------------------

    def _result(self, subject: _Subject, started: datetime, finished: datetime) -> SearchResult:
        from discover.hits import hits_table  # may be loading already: load_hits_ahead

        rows = list(self._hit_rows(subject))
        named = sorted({row["client"] for row in rows if row["client"]})
        return SearchResult(
            request=subject.request,
            hits=hits_table(rows),
            sources=[replace(s, warnings=list(s.warnings)) for s in self.statuses.values()],
            traces=sorted(subject.traces.values(), key=lambda t: (t.depth, t.identifier)),
            warnings=list(subject.warnings),
            started_at=started,
            finished_at=finished,
            stopped=[
                {**verdict.to_document(identifier), "depth": subject.traces[identifier].depth}
                for identifier, verdict in sorted(subject.stops.items())
            ],
            unreadable=list(subject.unreadable),
            clients={name: self._client_document(name) for name in named},
        )

    def _client_document(self, name: str) -> dict[str, str]:
        """A client as the case keeps it for packages: name and contact details (a
        source's ``client:`` the ``clients:`` block lacks has its name only)."""
        for status in self.statuses.values():
            if status.client and status.client.get("name") == name:
                return dict(status.client)
        return self.clients.document(name)

    def _via(self, subject: _Subject, identifier: Identifier) -> str:
        """The provenance chain: given identifier -> record.field -> found identifier …"""
        chain: list[str] = []
        trace: Trace | None = subject.traces[identifier]
        while trace is not None:
            chain.append(str(trace.identifier))
            if trace.found_in:
                chain.append(trace.found_in)
            trace = subject.traces[trace.parent] if trace.parent else None
        return " -> ".join(reversed(chain))

    def _context_of(self, subject: _Subject, record: Record, source: str) -> RecordRef | None:
        """The subject's record that another person's record is context of, or None.

        A record a connector marks ``third_party`` (another keyholder of the subject's
        alarm object), reached only through a relation, is someone else's record: it is
        shown on the subject's own record it hangs from, with its fields redacted,
        never as a record of the subject. The contacts of the subject's own phonebook
        (a category the register keeps for the subject's own use) stay records.
        """
        if not record.third_party or record.matches:
            return None
        if any(value.spec.category in self.own_use for value in record.fields):
            return None
        for link in record.links:
            parent = (source, link.location, link.key)
            if parent in subject.records and not subject.records[parent].third_party:
                return parent
        return None

    def _file(self, source: str, base: str, reference: str | None) -> str | None:
        """The file a reference names, if it is a regular file below its base directory."""
        connector = next((c for c in self.connectors if c.name == source), None)
        config = getattr(connector, "source", None)
        return resolve_file(getattr(config, "base_dir", None), base, reference)

    def _record_clients(self, subject: _Subject) -> dict[RecordRef, str | None]:
        """Each record's client organisation, by name, or None when it has none.

        A source of one client (``client:`` in the sources file) holds that client's
        records; otherwise the values of the record's client fields and its place
        (a provisioning directory's client folder) must name one client of the sources
        file's ``clients:``. A value naming none, or values naming two, leave the record
        without a client, never a guessed one; the search warns of them by source when
        the record holds a client category (its controller is then named generically).
        """
        found: dict[RecordRef, str | None] = {}
        unknown: dict[str, dict[str, int]] = defaultdict(dict)
        conflicting: dict[str, int] = defaultdict(int)
        for ref, record in subject.records.items():
            source = ref[0]
            status = self.statuses.get(source)
            if status is not None and status.client:
                found[ref] = status.client.get("name")
                continue
            values: list[object] = [record.client] if record.client is not None else []
            values += [
                v.value
                for v in record.fields
                if v.spec.client and v.value is not None and v.value is not WITHHELD
            ]
            attribution = self.clients.attribute(source, values)
            found[ref] = attribution.client
            if not (attribution.unknown or attribution.conflicting) or not any(
                self.register.category(v.spec.category).controller == "client"
                for v in record.fields
            ):
                continue
            for value in attribution.unknown:
                unknown[source][value] = unknown[source].get(value, 0) + 1
            if attribution.conflicting:
                conflicting[source] += 1
        for source, values in sorted(unknown.items()):
            shown = ", ".join(shown_value(v, 40) for v in sorted(values)[:3])
            more = " …" if len(values) > 3 else ""
            subject.warnings.append(
                f"source {source}: {sum(values.values())} record(s) of client categories "
                f"name a client the sources file's clients do not list ({shown}{more}): "
                "their controller is named generically; add the value to that client's "
                "identifiers"
            )
        for source, count in sorted(conflicting.items()):
            subject.warnings.append(
                f"source {source}: {count} record(s) of client categories name two "
                "different clients: their controller is named generically"
            )
        return found

    def _hit_rows(self, subject: _Subject) -> Iterable[dict[str, Any]]:
        classes = _classify(subject)
        clients = self._record_clients(subject)
        context: dict[RecordRef, list[tuple[RecordRef, str]]] = defaultdict(list)
        for ref in sorted(subject.records, key=_ref_order):
            record = subject.records[ref]
            parent = self._context_of(subject, record, ref[0])
            if parent is not None:
                relation = next(
                    link.relation
                    for link in record.links
                    if (link.location, link.key) == parent[1:]
                )
                context[parent].append((ref, relation))
        hidden = {child for children in context.values() for child, _relation in children}
        for ref in sorted(subject.records, key=_ref_order):
            if ref in hidden:
                continue
            record = subject.records[ref]
            client = clients[ref]
            yield from self._record_rows(subject, classes, ref, record, record, None, client)
            for child, relation in context.get(ref, ()):
                yield from self._record_rows(
                    subject, classes, ref, record, subject.records[child], relation, client
                )

    def _record_rows(
        self,
        subject: _Subject,
        classes: dict[RecordRef, tuple[str, RecordRef, list[str]]],
        ref: RecordRef,
        record: Record,
        shown: Record,
        relation: str | None,
        client: str | None,
    ) -> Iterable[dict[str, Any]]:
        """The hits of one record, or of another person's record shown as its context
        (``relation`` set: every field is that person's, so each one is third-party);
        ``client`` is the record's client organisation (see :meth:`_record_clients`)."""
        source = ref[0]
        kind, root_ref, path = classes[ref]
        root = subject.records[root_ref]
        best = _best(subject, root.matches)
        via = self._via(subject, best.identifier)
        if path:
            root_name = f"{source}:{root.location}[{root.key}]"
            via = " -> ".join([via, root_name, *path])
        matched_on = sorted({m.identifier for m in (*root.matches, *record.matches)})
        matched_fields = {m.field for m in shown.matches}
        recorded_at = _utc(shown.recorded_at)
        observed = subject.observed[ref]
        for value in shown.fields:
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
                "field": spec.name if relation is None else f"{relation}: {spec.name}",
                "value": text,
                "value_type": value_type,
                "identifier": spec.identifier,
                "category": spec.category,
                "service": category.service,
                "matched_on": "; ".join(str(i) for i in matched_on),
                "match": kind,
                "via": via,
                "observed_at": observed,
                "recorded_at": recorded_at,
                # due for deletion when it was read: a fixed retention period ran out
                "overdue": expires is not None and expires < observed,
                "controller": category.controller,
                "legal_basis": category.legal_basis,
                "portable": category.portable,
                "secret": secret,
                "third_party": relation is not None
                or shown.third_party
                or (spec.third_party and spec.name not in matched_fields),
                "origin": spec.origin or category.origin,
                "secret_kind": (spec.secret_kind or "system") if secret else None,
                "entity": shown.entity,
                "label_nl": spec.label.get("nl") if spec.label else None,
                "label_en": spec.label.get("en") if spec.label else None,
                # another person's photo or recording never becomes a file
                "file": None
                if relation is not None or secret
                else self._file(source, spec.file_base, text)
                if spec.file_base
                else embedded_image(value.value),
                "client": client,
            }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _prune(subject: _Subject) -> None:
    """Drop records no longer reached from a matched record (after the guard)."""
    alive = {ref for ref, record in subject.records.items() if record.matches}
    children: dict[RecordRef, list[RecordRef]] = defaultdict(list)
    for ref, record in subject.records.items():
        for link in record.links:
            children[(ref[0], link.location, link.key)].append(ref)
    queue = list(alive)
    while queue:
        for child in children.get(queue.pop(), ()):
            if child not in alive:
                alive.add(child)
                queue.append(child)
    for ref in list(subject.records):
        if ref not in alive:
            del subject.records[ref]
            subject.observed.pop(ref, None)
    for ref, record in subject.records.items():
        record.links = [
            link for link in record.links if (ref[0], link.location, link.key) in subject.records
        ]


def _weak(subject: _Subject, match: Match) -> bool:
    """A weak identifier, or a shared one: on its own it makes a record only possible."""
    return match.identifier.weak or match.identifier in subject.shared


def _best(subject: _Subject, matches: list[Match]) -> Match:
    """The match to explain a record by: strong before weak, then the shortest chain."""
    return min(
        matches,
        key=lambda m: (_weak(subject, m), subject.traces[m.identifier].depth, m.identifier),
    )


def _direct_class(subject: _Subject, matches: list[Match]) -> str:
    strong = [m for m in matches if not _weak(subject, m)]
    if not strong:
        return "possible"
    given = [m for m in strong if subject.traces[m.identifier].depth == 0]
    if given:
        return "exact" if any(m.exact for m in given) else "normalised"
    return "expanded"


def _classify(subject: _Subject) -> dict[RecordRef, tuple[str, RecordRef, list[str]]]:
    """Each record's match kind, the matched record it is explained by, and the path.

    Strongly matched records keep their own kind. Records linked to them — directly
    or through other records — are ``related``, even when a weak identifier (a name)
    also matched them. What only hangs from weakly matched records stays ``possible``.
    Breadth-first from the strongest records, so each path is a shortest one and the
    choice between equal ones is always the same.
    """
    direct = {
        ref: _direct_class(subject, r.matches) for ref, r in subject.records.items() if r.matches
    }
    children: dict[RecordRef, list[tuple[RecordRef, str]]] = defaultdict(list)
    for ref in sorted(subject.records, key=_ref_order):
        for link in subject.records[ref].links:
            children[(ref[0], link.location, link.key)].append((ref, link.relation))

    classes: dict[RecordRef, tuple[str, RecordRef, list[str]]] = {}

    def spread(roots: list[RecordRef], kind: str) -> None:
        frontier = sorted(roots, key=lambda r: (MATCH_KINDS.index(direct[r]), _ref_order(r)))
        for ref in frontier:
            classes.setdefault(ref, (direct[ref], ref, []))
        while frontier:
            following: list[RecordRef] = []
            for parent in frontier:
                _kind, root, path = classes[parent]
                for child, relation in children.get(parent, ()):
                    if child in classes:
                        continue
                    step = f"{child[0]}:{child[1]}[{child[2]}] ({relation})"
                    classes[child] = (kind, root, [*path, step])
                    following.append(child)
            frontier = following

    spread([r for r, k in direct.items() if k != "possible"], "related")
    spread([r for r, k in direct.items() if k == "possible" and r not in classes], "possible")
    return classes
