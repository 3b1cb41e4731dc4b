"""A large SQLite table read as two halves side by side, on two connections.

SQLite answers a statement on one core: without an index on the searched columns,
finding a subject's calls in 5,000,000 call records is one pass over the table, about
half a second, however many cores the machine has. The table is stored in the order
of its rowids, so a statement restricted to a range of rowids reads only that part of
it (``rowid <= ?`` and ``rowid > ?`` are searches of the table's own B-tree, not a
filter on a full pass). Reading the lower half on the scan's own connection while
another connection reads the upper half takes about half the time (0.27 s against
0.48 s for the call records above); the rows come out in the order a single pass
gives them, the lower half's first.

Only a statement of exact comparisons on the stored values (the spellings a column's
profile gives, ``column IN (…)``) is split. A normalising predicate computes new text
for every row (``replace``, ``substr``, ``discover_fold``), and SQLite allocates it
under one lock for the whole process: two halves of it took 35 s where one pass takes
13 s. Only a statement SQLite would answer with a pass over the whole table is split
(an index on the searched columns answers it better), and only a table with real
rowids: a view, a table ``WITHOUT ROWID`` or one with a column that takes the name of
the rowid is read in one pass, as before.
Each half reads as of its own moment; the search's rounds already read a source
with several statements, each its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

#: a table of fewer rows (by its rowids) is read in one pass: splitting costs a
#: connection and a thread, some milliseconds
SPLIT_FROM = 250_000
#: the names SQLite gives the rowid, which a column of the table may take instead
_ROWID_NAMES = {"rowid", "_rowid_", "oid"}


def _rowid() -> sa.ColumnElement[Any]:
    return sa.literal_column("_rowid_")


def middle_rowid(connection: Connection, table: sa.TableClause) -> int | None:
    """The rowid that splits ``table`` in two halves, or None when it is read whole
    (not SQLite, one core, a small table, no real rowid)."""
    if connection.dialect.name != "sqlite" or (os.cpu_count() or 1) < 2:
        return None
    ends = rowid_ends(connection, table)
    if ends is None or ends[1] - ends[0] < SPLIT_FROM:
        return None
    low, high = ends
    return low + (high - low) // 2


def rowid_ends(connection: Connection, table: sa.TableClause) -> tuple[int, int] | None:
    """SQLite: the smallest and largest rowid of ``table``, read from the ends of its
    B-tree; None when it has no rows or no real rowid (a view, a table ``WITHOUT
    ROWID`` or one with a column that takes the name of the rowid).

    Asked of every searched table in every round, so both statements go to the driver
    as text (no statement to compile): a tenth of a millisecond each.
    """
    schema = table.schema or "main"
    try:
        names = connection.exec_driver_sql(
            "SELECT name FROM pragma_table_xinfo(?, ?)", (table.name, schema)
        )
        if any(str(name).lower() in _ROWID_NAMES for (name,) in names):
            return None
        # the names quoted (embedded quotes doubled), as the compiled statement had them
        quote = connection.dialect.identifier_preparer.quote_identifier
        place = f"{quote(schema)}.{quote(table.name)}"
        # one subquery per end: SQLite reads min() or max() of the rowid from an end of
        # the table's B-tree only when it is the statement's one aggregate
        low, high = connection.exec_driver_sql(
            f"SELECT (SELECT min(_rowid_) FROM {place}), (SELECT max(_rowid_) FROM {place})"  # noqa: S608
        ).one()
    except sa.exc.SQLAlchemyError:  # a view, a table WITHOUT ROWID
        return None
    if not isinstance(low, int) or not isinstance(high, int):
        return None
    return low, high


def passes_over_the_table(connection: Connection, statement: sa.Select, table: str) -> bool:
    """Whether SQLite plans ``statement`` as a pass over every row of ``table`` (its
    plan says ``SCAN table``): an index on the searched columns (``SEARCH … USING
    INDEX``) answers in a millisecond, and a second connection would only cost."""
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    values = tuple(compiled.params[name] for name in compiled.positiontup or ())
    try:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", values)
        steps = [str(row[-1]) for row in plan]
    except sa.exc.SQLAlchemyError:
        return False
    return f"SCAN {table}" in steps


def read_in_halves(
    connection: Connection,
    statement: sa.Select,
    middle: int,
    other_connection: Callable[[], AbstractContextManager[Connection]],
) -> Iterator[Sequence[Any]]:
    """The rows of ``statement``: the rowids up to ``middle`` read on ``connection``
    while those above it are read on ``other_connection()`` in a thread of its own."""
    upper: dict[str, Any] = {}

    def read_upper() -> None:
        try:
            with other_connection() as other:
                upper["rows"] = other.execute(statement.where(_rowid() > middle)).fetchall()
        except BaseException as exc:  # raised again in the scan's own thread
            upper["error"] = exc

    thread = threading.Thread(target=read_upper, name="sql-upper-half", daemon=True)
    thread.start()
    try:
        yield from connection.execute(statement.where(_rowid() <= middle))
    finally:
        thread.join()
    if "error" in upper:
        raise upper["error"]
    yield from upper["rows"]
