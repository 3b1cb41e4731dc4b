"""SQL connector: SQLite, PostgreSQL (psycopg 3) and MariaDB/MySQL (PyMySQL).

The search is pushed down: per table, one SELECT per chunk of identifiers whose
WHERE ORs the candidate predicates of every mapped identifier column
(:mod:`connectors.sql.predicates`), with bound parameters and table and column names
quoted by SQLAlchemy. Candidates are verified after normalisation in Python; then the
declared relations are followed with ``IN`` queries on the join columns, transitively.

Nothing waits for ever: a connect timeout and a per-statement and lock-wait timeout
apply to every database (``connection.connect_timeout``, default 10 s, and
``connection.timeout``, default 30 s); a source that runs into one fails by name.

Sources are opened read-only where the database allows it — SQLite ``mode=ro`` plus
``PRAGMA query_only``, PostgreSQL ``default_transaction_read_only``, MariaDB
``SET SESSION TRANSACTION READ ONLY`` — the connector only ever issues SELECT, and
every transaction is rolled back.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.sql.elements import ColumnElement

from connectors.base import (
    WITHHELD,
    Connector,
    FieldValue,
    Link,
    Record,
    ScanResult,
    verify_fields,
    wanted_index,
)
from connectors.nearest import listing
from connectors.safe_files import check_regular
from connectors.sql.halves import middle_rowid, passes_over_the_table, read_in_halves
from connectors.sql.learning import learn
from connectors.sql.mapping import SqlMapping, SqlRelation, SqlTable, parse_sql_mapping
from connectors.sql.predicates import SQLITE_FOLD, candidate_predicate, spellings_in, text_forms
from connectors.sql.profile import (
    PROFILED_TYPES,
    ProfileCache,
    TableProfile,
    cache_dir,
    fingerprint,
    fresh,
    table_state,
)
from discover.errors import SourceError
from discover.identifiers import Identifier, fold_text
from discover.mapping import FieldSpec
from discover.register import Register

log = logging.getLogger(__name__)

#: driver messages that say a time limit ran out (or a lock was never granted)
_TIMED_OUT = re.compile(
    r"timeout|timed out|time ?limit|database is locked|max_statement_time|"
    r"maximum statement execution time|Lock wait",
    re.IGNORECASE,
)

_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def database_url(raw: str, base_dir: Path) -> URL:
    """The SQLAlchemy URL with the shipped drivers; relative SQLite paths from ``base_dir``."""
    url = make_url(raw)
    if url.drivername in _DRIVERS:
        url = url.set(drivername=_DRIVERS[url.drivername])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(base_dir / path))
    return url


def _fold(value: object) -> str | None:
    return None if value is None else fold_text(str(value))


def open_engine(
    raw_url: str,
    base_dir: Path,
    *,
    read_only: bool = True,
    timeout: float = 30,
    connect_timeout: float = 10,
) -> Engine:
    """An engine that cannot write, and that never waits for ever.

    A missing SQLite file is an error, never created. One pooled connection serves the
    whole search (check, every round's scans), so a search pays for one connect.

    ``connect_timeout`` bounds connecting (a server that accepts and never answers);
    ``timeout`` bounds each statement and each wait for a lock: PostgreSQL
    ``statement_timeout`` and ``lock_timeout``, MariaDB ``max_statement_time`` and
    ``lock_wait_timeout`` (MySQL ``max_execution_time``) with a socket read timeout
    just above them, SQLite's busy timeout.
    """
    url = database_url(raw_url, base_dir)
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    whole = max(1, math.ceil(timeout))
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            try:
                check_regular(url.database)
            except FileNotFoundError:
                raise FileNotFoundError(f"SQLite database {url.database} does not exist") from None
            except OSError as exc:  # a FIFO or device is never handed to SQLite
                raise ValueError(f"SQLite database {url.database}: {exc.strerror}") from None
            mode = "ro" if read_only else "rw"  # never "rwc": a typo must not create a file
            # A URI: '?', '#' and '%' in the path must be percent-encoded.
            uri = f"file:{quote(url.database)}?mode={mode}"
            url = url.set(database=uri, query={"uri": "true"})
        connect_args["timeout"] = timeout
    elif backend == "postgresql":
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))
        milliseconds = max(1, round(timeout * 1000))
        options = f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
        if read_only:
            # read-only, and one snapshot per scan: the related rows a scan follows
            # are read as of the same moment as the rows that matched
            options += (
                " -c default_transaction_read_only=on"
                " -c default_transaction_isolation=repeatable\\ read"
            )
        connect_args["options"] = options
    elif backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))
        # the server's own limits answer first, with their reason; the socket's is a backstop
        connect_args["read_timeout"] = whole + 2
        connect_args["write_timeout"] = whole + 2
    # Every session rolls back itself (SqlConnector._session): no second reset on return.
    engine = sa.create_engine(
        url,
        connect_args=connect_args,
        poolclass=sa.pool.QueuePool,
        pool_size=1,
        max_overflow=1,
        pool_reset_on_return=None,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if backend == "sqlite":
            dbapi_connection.create_function(SQLITE_FOLD, 1, _fold, deterministic=True)
            if read_only:
                dbapi_connection.execute("PRAGMA query_only = ON")
        elif backend in ("mysql", "mariadb"):
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET SESSION lock_wait_timeout = {whole}")
                if "mariadb" in dbapi_connection.get_server_info().lower():
                    cursor.execute(f"SET SESSION max_statement_time = {float(timeout)}")
                else:
                    cursor.execute(f"SET SESSION max_execution_time = {whole * 1000}")
                if read_only:
                    cursor.execute("SET SESSION TRANSACTION READ ONLY")

    return engine


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    size = max(1, size)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _recorded_at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def join_key(value: Any) -> str | None:
    """A join value as text, so that INT, BIGINT and NUMERIC(…, 0) keys compare equal.

    None, withheld and blank values join nothing: following ``''`` would pull every
    row with an empty reference.
    """
    if value is None or value is WITHHELD:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


class SqlConnector(Connector):
    """Searches relational databases through SQLAlchemy 2."""

    kind: ClassVar[str] = "sql"
    mapping_schema: ClassVar[str] = "mapping-sql.schema.json"
    mapping: SqlMapping

    @classmethod
    def parse_mapping(
        cls, document: dict[str, Any], *, register: Register, file: str
    ) -> SqlMapping:
        return parse_sql_mapping(document, register=register, file=file)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._engine: Engine | None = None
        self._checked = False
        self._tables: dict[str, sa.TableClause] = {
            name: sa.table(table.table, *map(sa.column, table.columns), schema=table.schema)
            for name, table in self.mapping.tables.items()
        }
        self._selects = {name: self._select(name) for name in self.mapping.tables}
        self._edges = self._relation_edges()
        self._profile_cache: ProfileCache | None = None

    # -- connection -----------------------------------------------------------------

    def _failure(self, exc: BaseException) -> SourceError:
        transient = isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | TimeoutError)
        detail = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        text = " ".join(str(detail).split())[:300]
        if _TIMED_OUT.search(text):
            connect_timeout, timeout = self._timeouts()
            text += (
                f" (time limits in the source's connection: connect_timeout {connect_timeout:g} s,"
                f" timeout {timeout:g} s per statement or lock wait)"
            )
        return SourceError(self.name, f"{type(detail).__name__}: {text}", transient=transient)

    def _timeouts(self) -> tuple[float, float]:
        """(connect_timeout, timeout) from the connection, in seconds; SourceError if invalid."""
        values = []
        for key, default in (("connect_timeout", 10.0), ("timeout", 30.0)):
            raw = self.source.connection.get(key, default)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = -1.0
            if not math.isfinite(value) or value <= 0 or isinstance(raw, bool):
                raise SourceError(
                    self.name, f"connection.{key} must be a number of seconds above 0, not {raw!r}"
                )
            values.append(value)
        return values[0], values[1]

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self.source.connection.get("url")
            if not url:
                raise SourceError(self.name, "connection.url is not set in the sources file")
            connect_timeout, timeout = self._timeouts()
            try:
                self._engine = open_engine(
                    str(url),
                    self.source.base_dir,
                    timeout=timeout,
                    connect_timeout=connect_timeout,
                )
            except (sa.exc.ArgumentError, FileNotFoundError, ImportError, ValueError) as exc:
                raise SourceError(self.name, str(exc)) from exc
        return self._engine

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        """A connection whose transaction is always rolled back; errors as SourceError."""
        try:
            connection = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise self._failure(exc) from exc
        try:
            yield connection
        except sa.exc.SQLAlchemyError as exc:
            raise self._failure(exc) from exc
        finally:
            try:
                connection.rollback()
            finally:
                connection.close()

    def check(self) -> None:
        """Connect and run ``SELECT 1``; once it worked, later calls cost nothing
        (a search that keeps its connectors checks each source once)."""
        if self._checked:
            return
        with self._session() as connection:
            connection.execute(sa.select(sa.literal(1)))
        self._checked = True

    def check_mapping(self) -> list[str]:
        problems: list[str] = []
        with self._session() as connection:
            inspector = sa.inspect(connection)
            for name, table in self.mapping.tables.items():
                try:
                    present = {c["name"] for c in inspector.get_columns(table.table, table.schema)}
                except sa.exc.NoSuchTableError:
                    problems.append(f"table {table.location!r} (tables.{name}) does not exist")
                    continue
                lowered = {c.lower() for c in present}
                for column in table.columns:
                    if column not in present and column.lower() not in lowered:
                        problems.append(
                            f"column {column!r} (tables.{name}.columns.{column}) does not exist "
                            f"in {table.location!r}; its columns, nearest first: "
                            + listing([column], present)
                        )
        return problems

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._checked = False

    # -- reading ----------------------------------------------------------------------

    def _select(self, name: str) -> tuple[sa.Select, list[str]]:
        """SELECT of a table's mapped columns; secrets only as 'present or not'."""
        table = self.mapping.tables[name]
        clause = self._tables[name]
        columns: list[ColumnElement] = []
        names: list[str] = []
        for index, (column, spec) in enumerate(table.columns.items()):
            expression: ColumnElement = clause.c[column]
            if spec.secret:
                # The value never leaves the database: only whether there is one.
                expression = sa.case((expression.is_(None), 0), else_=1)
            columns.append(expression.label(f"c{index}"))
            names.append(column)
        return sa.select(*columns).select_from(clause), names

    def _record(self, name: str, names: list[str], row: Sequence[Any]) -> Record:
        table = self.mapping.tables[name]
        values = dict(zip(names, row, strict=True))
        fields: list[FieldValue] = []
        recorded_at = None
        for column, spec in table.columns.items():
            value = values[column]
            if spec.secret:
                value = WITHHELD if value else None
            elif spec.recorded_at and recorded_at is None:
                recorded_at = _recorded_at(value)
            fields.append(FieldValue(spec, value))
        return Record(
            location=table.location,
            key=self._key(table, values),
            fields=fields,
            entity=table.entity,
            recorded_at=recorded_at,
        )

    @staticmethod
    def _key(table: SqlTable, values: dict[str, Any]) -> str:
        return ";".join(f"{column}={values[column]}" for column in table.key)

    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        wanted = wanted_index(identifiers)
        result = ScanResult()
        found: dict[str, dict[str, Record]] = defaultdict(dict)
        with self._session() as connection:
            for name, table in self.mapping.tables.items():
                specs = [s for s in table.searchable if s.identifier in wanted]
                if not specs:
                    continue
                types = {s.identifier for s in specs}
                relevant = sorted(
                    identifier for kind in types for identifier in wanted[kind].values()
                )
                select, names = self._selects[name]
                profile, indexed = self._table_profile(connection, name, specs)
                if connection.dialect.name != "postgresql":
                    indexed = frozenset()  # rows added since: a statement of their own
                middle = middle_rowid(connection, self._tables[name])
                for chunk in _chunks(relevant, self.settings.chunk_size):
                    by_type: dict[str, list[Identifier]] = defaultdict(list)
                    for identifier in chunk:
                        by_type[identifier.type].append(identifier)
                    wheres, exact = self._wheres(name, specs, by_type, profile, indexed)
                    for number, predicate in enumerate(wheres):
                        # the first statement reads the whole table (in halves, when
                        # large and exact comparisons only); the others a range of its
                        # key (rows added since)
                        split = middle if number == 0 and exact else None
                        rows = self._rows(connection, name, select.where(predicate), split)
                        for row in rows:
                            result.rows_read += 1
                            record = self._record(name, names, row)
                            if record.key in found[name]:
                                continue
                            verify_fields(record, wanted)
                            if record.matches:
                                found[name][record.key] = record
            self._follow_relations(connection, found, result)
        result.records = [record for records in found.values() for record in records.values()]
        return result

    def _rows(
        self, connection: Connection, name: str, statement: sa.Select, middle: int | None
    ) -> Iterable[Sequence[Any]]:
        """The rows of a scan's statement on table ``name``: in two halves side by side
        when ``middle`` splits the table and no index answers the statement (see
        :mod:`connectors.sql.halves`)."""
        table = self._tables[name].name
        if middle is not None and passes_over_the_table(connection, statement, table):
            return read_in_halves(connection, statement, middle, self._session)
        return connection.execute(statement)

    # -- column profiles ----------------------------------------------------------------

    def _profiles(self) -> ProfileCache | None:
        """This source's profile cache; None when ``connection.profile`` is false."""
        connection = self.source.connection
        if connection.get("profile", True) in (False, "false", "no", "off"):
            return None
        if self._profile_cache is None:
            directory = cache_dir(connection.get("profile_cache"), self.source.base_dir)
            url = database_url(str(connection.get("url", "")), self.source.base_dir)
            identity = f"{self.name}\n{url.render_as_string(hide_password=True)}"
            self._profile_cache = ProfileCache(directory, identity)
        return self._profile_cache

    def _table_profile(
        self, connection: Connection, name: str, specs: Sequence[FieldSpec]
    ) -> tuple[TableProfile | None, frozenset[str]]:
        """The profiles of a table's searched columns, learnt again when the table moved,
        and the columns that lead a plain index (PostgreSQL; see :class:`TableState`).

        Every profiled column of the table is learnt at once (one pass over it), not
        only those ``specs`` searches now: the next round's identifiers need the others.
        """
        cache = self._profiles()
        table = self.mapping.tables[name]
        columns = {s.name: s.identifier for s in table.searchable if s.identifier in PROFILED_TYPES}
        if cache is None or not any(s.identifier in PROFILED_TYPES for s in specs):
            return None, frozenset()
        state = table_state(connection, table.table, table.schema)
        current = state.fingerprint
        if current is None:
            return None, state.indexed
        backend = connection.dialect.name
        key = f"{table.location}\n" + ",".join(f"{c}:{k}" for c, k in sorted(columns.items()))
        cached = cache.get(key)
        if cached is not None and fresh(backend, cached.fingerprint, current):
            return cached, state.indexed
        single_key = table.key[0] if len(table.key) == 1 else None
        try:
            # a connection of its own: a failure must not end the scan's transaction
            with self._session() as learning:
                current = fingerprint(learning, table.table, table.schema)
                key_max, profiles = learn(
                    learning, self._tables[name], columns, single_key, schema=table.schema
                )
        except SourceError as exc:
            log.warning("%s: columns of %s not profiled: %s", self.name, table.location, exc)
            return None, state.indexed
        learnt = TableProfile(current, key_max, profiles)
        # kept only when nothing may have changed while it was learnt (MariaDB: a
        # write in the same second); otherwise it serves this scan and is learnt again
        cache.put(key, learnt if fresh(backend, current, current) else None)
        return learnt, state.indexed

    def _wheres(
        self,
        name: str,
        specs: Sequence[FieldSpec],
        by_type: dict[str, list[Identifier]],
        profile: TableProfile | None,
        indexed: frozenset[str],
    ) -> tuple[list[ColumnElement], bool]:
        """The WHERE of each statement: per column the stored spellings where the
        column's profile allows it, else the normalising predicate; then, for the rows
        added after profiling (``key > largest profiled key``), the normalising way.
        And whether the first is exact comparisons only (no function of the stored
        value computed for every row).

        The newer rows get a statement of their own: a range of the key, which every
        backend reads from its primary key, instead of one more condition on every row
        of the main scan (an eighth of a 5,000,000-row scan on SQLite). When every
        column compared exactly leads a plain index (``indexed``: PostgreSQL), the
        newer rows are one more arm of the first statement's ``OR`` instead: the
        planner reads the arms as one bitmap OR of index scans, where a second
        statement would cost as much as the indexed lookup itself (a round trip, and
        planning the normalising expression). Not without those indexes: on a full scan
        the arm's estimated cost turns on PostgreSQL's JIT compilation and slowed a
        5,000,000-row scan by half.
        """
        clause = self._tables[name]
        exact: list[ColumnElement] = []
        exact_columns: set[str] = set()
        normalising: list[ColumnElement] = []
        guarded: list[ColumnElement] = []
        for spec in specs:
            kind = spec.identifier
            if kind not in by_type:
                continue
            values = by_type[kind]
            column = clause.c[spec.name]
            predicate = candidate_predicate(kind, column, values)
            column_profile = profile.columns.get(spec.name) if profile else None
            spellings = (
                column_profile.spellings(values, text_forms(kind, values))
                if column_profile is not None
                else None
            )
            if spellings is None:
                normalising.append(predicate)
            else:
                exact.append(spellings_in(column, spellings))
                exact_columns.add(spec.name)
                guarded.append(predicate)
        wheres = [sa.or_(*exact, *normalising)]
        if guarded and profile is not None:
            key = self.mapping.tables[name].key
            if profile.key_max is not None and len(key) == 1:
                newer = clause.c[key[0]] > sa.literal(profile.key_max, sa.BigInteger())
                added = sa.and_(newer, sa.or_(*guarded))
                if not normalising and exact_columns <= indexed:
                    wheres = [sa.or_(*exact, added)]
                else:
                    wheres.append(added)
        return wheres, not normalising

    # -- relations --------------------------------------------------------------------

    def _relation_edges(self) -> dict[str, list[tuple[SqlRelation, str, str, str]]]:
        """For each table: (relation, own column, other table, other column) to follow."""
        edges: dict[str, list[tuple[SqlRelation, str, str, str]]] = defaultdict(list)
        for relation in self.mapping.relations:
            if relation.follow in ("forward", "both"):
                edges[relation.from_table].append(
                    (relation, relation.from_column, relation.to_table, relation.to_column)
                )
            if relation.follow in ("backward", "both"):
                edges[relation.to_table].append(
                    (relation, relation.to_column, relation.from_table, relation.from_column)
                )
        return edges

    def _follow_relations(
        self, connection: Connection, found: dict[str, dict[str, Record]], result: ScanResult
    ) -> None:
        """Fetch related rows breadth-first until nothing new is reached (cycles end)."""
        frontier: dict[str, list[Record]] = {
            name: list(records.values()) for name, records in found.items()
        }
        while frontier:
            next_frontier: dict[str, list[Record]] = defaultdict(list)
            for name, records in frontier.items():
                for relation, own, other, other_column in self._edges.get(name, []):
                    parents: dict[str, list[Record]] = defaultdict(list)
                    join_values: dict[str, Any] = {}
                    for record in records:
                        value = record.value(own)
                        key = join_key(value)
                        if key is not None:
                            parents[key].append(record)
                            join_values[key] = value
                    if not parents:
                        continue
                    for child in self._fetch_related(
                        connection, other, other_column, list(join_values.values()), result
                    ):
                        existing = found[other].get(child.key)
                        target = existing or child
                        for parent in parents.get(join_key(child.value(other_column)) or "", []):
                            link = Link(parent.location, parent.key, relation.label)
                            if parent.ref != target.ref and link not in target.links:
                                target.links.append(link)
                        if existing is None and child.links:
                            found[other][child.key] = child
                            next_frontier[other].append(child)
            frontier = dict(next_frontier)

    def _fetch_related(
        self,
        connection: Connection,
        name: str,
        column: str,
        values: Iterable[Any],
        result: ScanResult,
    ) -> Iterator[Record]:
        select, names = self._selects[name]
        clause = self._tables[name]
        ordered = sorted(values, key=str)
        for chunk in _chunks(ordered, self.settings.chunk_size):
            for row in connection.execute(select.where(clause.c[column].in_(list(chunk)))):
                result.rows_read += 1
                yield self._record(name, names, row)
