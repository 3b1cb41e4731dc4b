"""Pattern profiles: the spellings a column stores, so a search can ask for them exactly.

The normalising predicates (:mod:`connectors.sql.predicates`) rewrite every stored
value before comparing it, which makes the database read and rewrite the whole
column on every search unless an expression index exists. Most columns, though,
store an identifier in a handful of surface patterns: a call-record column holds
``316…`` and ``0031…``, a contact column ``06-1234 5678`` and ``+31 6 …``. Knowing
those patterns, a search can write the subject's identifiers in each of them and ask
``column IN (…)``, which a plain B-tree index on the column serves and which, even
without an index, costs the database one comparison per row instead of a chain of
string functions.

A profile is complete, not sampled: it is learnt from every distinct value of the
column, so every value the normalising predicate would select has its pattern in the
profile (the argument is given per family below); the database computes what the
profile keeps of each value (:mod:`connectors.sql.learning`), so only the patterns
travel (and, for text, the few values the database cannot describe). It is cached per source on disk
with a fingerprint of the table (SQLite: the database file's size and modification
time; PostgreSQL: the table's insert/update/delete counters and file node; MariaDB:
the table's update and creation time) and learnt again when the fingerprint moved.
Rows added after profiling are also covered without the fingerprint: where a table
has one integer key, the search adds ``key > <largest key profiled> AND
<normalising predicate>``, an index range over the new rows only.

The cache holds no personal data: digit positions are placeholders, only the
literal punctuation between them is kept (a pattern with letters in it is not
stored: the column is searched the normalising way), and for the few leading or
trailing digits a search needs (a country code before a national number, the check
digit after an IMEI's first 14 digits) at most :data:`SIDE_CAP` distinct values per
length, of at most :data:`MAX_SIDE` digits.

Two families:

* **digits** (phone, IMEI, ICCID, IMSI): the normalising predicate selects a value
  when its digits, after removing punctuation, end with (phone) or begin with
  (IMEI, ICCID) or equal (IMSI) the searched digits. A value's pattern is its text
  with each ASCII digit as a placeholder; the profile also keeps, per pattern and per
  length ``k``, the distinct first ``k`` digits (phone) or last ``k`` digits (IMEI,
  ICCID). A value the predicate selects has its pattern in the profile and the
  digits around the searched ones in that pattern's set, so writing the searched
  digits into the pattern with each of those reproduces the value exactly.
* **text** (e-mail, IP address, account, user name): the predicate compares the
  value, without surrounding white space and lower-cased, with the searched forms. A
  value's pattern is its surrounding white space and its case (all lower, all
  upper, each word capitalised as ``str.title`` does, or only the first letter); a
  column with other mixed-case values, display forms (``Jan <jan@…>``) or
  domain-qualified user names (``ACME\\jan``) cannot be written from the identifier
  and keeps the normalising predicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors import caches
from discover.identifiers import Identifier, try_normalise

log = logging.getLogger(__name__)

#: identifier type -> family and which side of the searched digits varies
DIGIT_TYPES = {"phone": "heads", "imei": "tails", "iccid": "tails", "imsi": "exact"}
TEXT_TYPES = frozenset({"email", "ip", "account", "username"})
PROFILED_TYPES = frozenset(DIGIT_TYPES) | TEXT_TYPES

#: more patterns than this in one column: searched the normalising way
MAX_PATTERNS = 64
#: distinct leading/trailing digits kept per pattern and length
SIDE_CAP = 1000
#: at most this many leading/trailing digits are kept ("0031", "00354"): never a number
MAX_SIDE = 5
#: more spellings than this for one column in one statement: the normalising way
MAX_SPELLINGS = 2000
#: longest literal text a pattern may hold
MAX_LITERAL = 40
CACHE_VERSION = 2
#: how the values of a text column may be cased, each written from the lower-cased
#: form the normaliser gives (``Jan.Smit@Acme.Nl`` is ``str.title`` of its address, as
#: CRMs that capitalise names write it); a value cased otherwise refuses the profile
_CASES = {
    "lower": str,
    "upper": str.upper,
    "title": str.title,
    "capitalized": str.capitalize,
}
#: PostgreSQL and MariaDB tables smaller than this are searched the normalising way: a
#: scan of them costs milliseconds, and their statistics may lag a write (see below)
MIN_TABLE_BYTES = 128 * 1024
_WHITE = " \t\n\r"
_PHONE_JUNK = " -()+./"
#: stands for a digit in a layout (a private-use character: no value holds it)
_MARK = "\ue000"
_TO_MARK = str.maketrans(dict.fromkeys("0123456789", _MARK))
_NOT_DIGIT = re.compile("[^0-9]")


class Unrenderable(Exception):
    """A column value whose spelling cannot be written from an identifier."""


# -- learning ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Shape:
    """One digit pattern: its literal parts and the digits seen around the searched ones."""

    number: bool
    parts: tuple[str, ...]
    sides: list[set[str]] = field(default_factory=list)
    #: lengths below this have complete sets; at and above it there were too many
    limit: int = 0

    @property
    def width(self) -> int:
        return len(self.parts) - 1


def _case_of(core: str) -> str:
    """Which of :data:`_CASES` writes ``core`` from its lower-cased form, the first
    that does (Unrenderable: none)."""
    lowered = core.lower()
    for case, cased in _CASES.items():
        if cased(lowered) == core:
            return case
    raise Unrenderable("mixed-case values")


@dataclass(slots=True)
class ColumnProfile:
    """The patterns of one column for one identifier type."""

    kind: str
    #: why the column is searched the normalising way; None when it can be profiled
    refused: str | None = None
    shapes: dict[tuple[bool, str], _Shape] = field(default_factory=dict)
    #: text family: (number, leading white space, trailing white space, "lower"|"upper")
    cases: set[tuple[bool, str, str, str]] = field(default_factory=set)
    #: digit layouts seen that the normalising predicate never selects (not stored)
    _irrelevant: set[tuple[bool, str]] = field(default_factory=set)

    @property
    def patterns(self) -> int:
        return len(self.shapes) + len(self.cases)

    # - learning -

    def add(self, value: object) -> None:
        """Take one distinct stored value into the profile."""
        if self.refused is not None or value is None or isinstance(value, bool):
            return
        try:
            number, text = _as_text(value)
        except Unrenderable as exc:
            self.refuse(str(exc))
            return
        self.add_text(number, text)

    def add_text(self, number: bool, text: str) -> None:
        """Take one stored value, as the database compares it as text, into the profile.

        ``number``: the column stores numbers (the spellings are then numbers too).
        """
        if self.refused is not None:
            return
        try:
            if self.kind in DIGIT_TYPES:
                self._add_digits(number, text)
            else:
                self._add_text(number, text)
        except Unrenderable as exc:
            self.refuse(str(exc))
            return
        if self.patterns > MAX_PATTERNS:
            self.refuse(f"more than {MAX_PATTERNS} patterns")

    def refuse(self, reason: str) -> None:
        """Search the column the normalising way from now on, for ``reason``."""
        self.refused = reason
        self.shapes.clear()
        self.cases.clear()

    def _add_digits(self, number: bool, text: str) -> None:
        if _MARK in text:
            raise Unrenderable("private-use characters")
        layout = text.translate(_TO_MARK)
        key = (number, layout)
        if key in self._irrelevant:
            return
        shape = self.shapes.get(key)
        side = DIGIT_TYPES[self.kind]
        if shape is None:
            compact = "".join(ch for ch in layout.strip(_WHITE) if ch not in _PHONE_JUNK)
            # values the normalising predicate can never select do not count
            if not compact or (
                (side == "heads" and compact[-1] != _MARK)
                or (side == "tails" and compact[0] != _MARK)
                or (side == "exact" and compact.strip(_MARK))
            ):
                self._irrelevant.add(key)
                return
            parts = tuple(layout.split(_MARK))
            _check_literal(parts, allow_pad=side == "tails")
            limit = 1 if side == "exact" else min(len(parts), MAX_SIDE + 1)
            shape = self.shapes[key] = _Shape(number, parts, limit=limit)
        digits = _NOT_DIGIT.sub("", text)
        width = len(digits)
        sides = shape.sides
        for length in range(min(shape.limit, width + 1)):
            if length == len(sides):
                sides.append(set())
            seen = sides[length]
            seen.add(digits[:length] if side == "heads" else digits[width - length :])
            if len(seen) > SIDE_CAP:
                shape.limit = length
                del sides[length:]
                break

    def _add_text(self, number: bool, text: str) -> None:
        core = text.strip(_WHITE)
        if not core:
            return
        if self.kind == "email" and "@" not in core:
            return  # never a candidate: every searched form holds an @
        if self.kind == "email" and ("<" in core or ">" in core):
            raise Unrenderable("display forms (Name <address>)")
        if self.kind == "username" and "\\" in core:
            raise Unrenderable("domain-qualified user names")
        case = _case_of(core)
        lead = text[: len(text) - len(text.lstrip(_WHITE))]
        trail = text[len(text.rstrip(_WHITE)) :]
        self.cases.add((number, lead, trail, case))

    # - rendering -

    def spellings(self, values: Sequence[Identifier], forms: Iterable[str]) -> list[Any] | None:
        """Every stored spelling of ``values`` this column's patterns allow.

        ``forms`` are the text forms the normalising predicate compares (text family).
        None when the column must be searched the normalising way for these values.
        """
        if self.refused is not None:
            return None
        found: set[Any] = set()
        if self.kind in DIGIT_TYPES:
            for identifier in values:
                if not self._render_digits(_searched_digits(identifier), found):
                    return None
                if len(found) > MAX_SPELLINGS:
                    return None
        else:
            for form in set(forms):
                for number, lead, trail, case in self.cases:
                    text = lead + _CASES[case](form) + trail
                    if number:
                        if text.isascii() and text.isdigit() and str(int(text)) == text:
                            found.add(int(text))
                    else:
                        found.add(text)
                if len(found) > MAX_SPELLINGS:
                    return None
        # a stored value equal to a spelling normalises as the spelling does: one that
        # is not one of the searched identifiers could never be verified, so it goes
        wanted = {identifier.value for identifier in values}
        kept = [v for v in found if _normalised(self.kind, str(v)) in wanted]
        return sorted(kept, key=lambda v: (isinstance(v, str), str(v)))

    def _render_digits(self, searched: str, found: set[Any]) -> bool:
        side = DIGIT_TYPES[self.kind]
        for shape in self.shapes.values():
            length = shape.width - len(searched)
            if length < 0 or (side == "exact" and length != 0):
                continue
            if length >= shape.limit:
                return False  # too many distinct digits around the searched ones
            for piece in shape.sides[length] if length < len(shape.sides) else ():
                digits = piece + searched if side == "heads" else searched + piece
                text = "".join(p + d for p, d in zip(shape.parts, digits, strict=False))
                text += shape.parts[-1]
                if shape.number:
                    if digits[0] != "0" or len(digits) == 1:
                        found.add(int(text))
                else:
                    found.add(text)
        return True

    # - storage -

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "refused": self.refused,
            "shapes": [
                {
                    "number": s.number,
                    "parts": list(s.parts),
                    "limit": s.limit,
                    "sides": [sorted(x) for x in s.sides],
                }
                for s in self.shapes.values()
            ],
            "cases": sorted(list(c) for c in self.cases),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnProfile:
        profile = cls(kind=str(data["kind"]), refused=data.get("refused"))
        for raw in data.get("shapes", []):
            shape = _Shape(
                bool(raw["number"]),
                tuple(str(p) for p in raw["parts"]),
                [set(map(str, side)) for side in raw["sides"]],
                int(raw["limit"]),
            )
            profile.shapes[(shape.number, _MARK.join(shape.parts))] = shape
        profile.cases = {(bool(n), str(a), str(b), str(c)) for n, a, b, c in data.get("cases", [])}
        if any(case not in _CASES for *_, case in profile.cases):
            profile.refuse("a case this version does not know")
        return profile


@lru_cache(maxsize=65536)
def _normalised(kind: str, text: str) -> str | None:
    return try_normalise(kind, text)


def _as_text(value: object) -> tuple[bool, str]:
    """(stored as a number, the value as the database compares it as text)."""
    if isinstance(value, int):
        return True, str(value)
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise Unrenderable("non-integral numbers")
        return True, str(int(value))
    if isinstance(value, str):
        return False, value
    raise Unrenderable(f"values of type {type(value).__name__}")


def _check_literal(parts: tuple[str, ...], *, allow_pad: bool) -> None:
    """Patterns hold punctuation only, so that the cache never holds a name."""
    literal = "".join(parts)
    if len(literal) > MAX_LITERAL:
        raise Unrenderable("long text around the digits")
    tail = parts[-1].rstrip(_WHITE)
    if allow_pad and tail[-1:] in ("F", "f"):  # an ICCID's pad digit
        literal = "".join(parts[:-1]) + tail[:-1]
    if any(ch.isalnum() for ch in literal):
        raise Unrenderable("letters around the digits")


def _searched_digits(identifier: Identifier) -> str:
    if identifier.type == "phone":
        return phonenumbers.national_significant_number(phonenumbers.parse(identifier.value))
    if identifier.type == "imei":
        return identifier.value[:14]
    return identifier.value


# -- fingerprints -----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class TableState:
    """What one catalogue query says of a table before it is searched.

    ``fingerprint`` moves whenever the table's rows change (see :func:`fingerprint`);
    ``indexed`` names the columns that lead a plain, valid B-tree index (PostgreSQL
    only; empty elsewhere), so a scan knows the planner can read its exact
    comparisons from indexes without asking for a plan. An index added later does not
    move the fingerprint: it changes how a table is read, not what it holds.
    """

    fingerprint: list[Any] | None
    indexed: frozenset[str] = frozenset()


def fingerprint(connection: Connection, table: str, schema: str | None) -> list[Any] | None:
    """Something that moves whenever the table's rows change; None when there is none."""
    return table_state(connection, table, schema).fingerprint


def table_state(connection: Connection, table: str, schema: str | None) -> TableState:
    """The table's fingerprint, and on PostgreSQL its indexed columns, in one query.

    The fingerprint is something that moves whenever the table's rows change; None when
    there is none.

    SQLite: size and modification time of the database file and its write-ahead log.
    PostgreSQL (ordinary tables): the file node and the insert, update and delete
    counters of the statistics system, which every committed change moves — reported
    by the writing session when it goes idle (within a second) or ends, so a row
    rewritten in a new spelling just before a search can be missed until then (rows
    added are covered by the key guard regardless). MariaDB/MySQL (base tables): the
    creation and last update time (whole seconds; see :func:`fresh`). Small tables
    (:data:`MIN_TABLE_BYTES`) get None: they are searched the normalising way.
    """
    backend = connection.dialect.name
    if backend == "sqlite":
        path = connection.execute(
            sa.text("SELECT file FROM pragma_database_list WHERE name = :schema"),
            {"schema": schema or "main"},
        ).scalar()
        if not path:
            return TableState(None)
        stamp: list[Any] = []
        for candidate in (path, path + "-wal"):
            try:
                info = os.stat(candidate)
                stamp += [info.st_size, info.st_mtime_ns]
            except OSError:
                stamp += [None, None]
        return TableState(stamp)
    if backend == "postgresql":
        row = connection.execute(
            # the statistics functions pg_stat_all_tables and pg_stat_database are
            # built on, for this table only: the views aggregate over every table
            sa.text(
                "SELECT c.relfilenode, pg_stat_get_tuples_inserted(c.oid), "
                "pg_stat_get_tuples_updated(c.oid), pg_stat_get_tuples_deleted(c.oid), "
                "pg_stat_get_db_stat_reset_time(d.oid), pg_relation_size(c.oid), "
                # columns leading a plain valid B-tree index (no expression, no WHERE)
                "ARRAY(SELECT a.attname::text FROM pg_index i "
                "JOIN pg_class ic ON ic.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree' "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                "WHERE i.indrelid = c.oid AND i.indisvalid AND i.indisready "
                "AND i.indexprs IS NULL AND i.indpred IS NULL) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_database d ON d.datname = current_database() "
                "WHERE c.relkind = 'r' AND c.relname = :table "
                "AND n.nspname = COALESCE(:schema, current_schema())"
            ),
            {"table": table, "schema": schema},
        ).first()
        if row is None or row[-2] < MIN_TABLE_BYTES:
            return TableState(None)
        return TableState([_jsonable(v) for v in row[:-2]], frozenset(row[-1] or ()))
    if backend in ("mysql", "mariadb"):
        row = connection.execute(
            sa.text(
                "SELECT CREATE_TIME, UPDATE_TIME, NOW(), DATA_LENGTH, "
                "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                " WHERE VARIABLE_NAME = 'UPTIME') "
                "FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
                "AND TABLE_NAME = :table AND TABLE_SCHEMA = COALESCE(:schema, DATABASE())"
            ),
            {"table": table, "schema": schema},
        ).first()
        if row is None or row[0] is None or (row[3] or 0) < MIN_TABLE_BYTES:
            return TableState(None)
        created, updated, now, _, uptime = row
        started = now.timestamp() - float(uptime or 0)
        # [stable part, update time, now, server start]: see fresh()
        return TableState([_jsonable(created), _jsonable(updated), now.timestamp(), started])
    return TableState(None)


def fresh(backend: str, stored: list[Any] | None, current: list[Any] | None) -> bool:
    """Whether a profile learnt under ``stored`` still holds for the table at ``current``."""
    if stored is None or current is None:
        return False
    if backend not in ("mysql", "mariadb"):
        return stored == current
    created, updated, profiled_at, _ = stored
    now_created, now_updated, _, started = current
    if (created, updated) != (now_created, now_updated):
        return False
    if updated is None:
        # no write since the server started: fresh when learnt after that start
        return profiled_at > started + 1
    # UPDATE_TIME has whole seconds: a write in the second the profile was learnt in
    # may have come after it
    return datetime.fromisoformat(updated).timestamp() < int(profiled_at)


# -- the cache --------------------------------------------------------------------------


@dataclass(slots=True)
class TableProfile:
    """The profiles of one table's searched columns, with the table's fingerprint."""

    fingerprint: list[Any] | None
    #: the largest value of the table's single integer key when learnt (None: no guard)
    key_max: int | None
    columns: dict[str, ColumnProfile] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "key_max": self.key_max,
            "columns": {name: p.to_json() for name, p in self.columns.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableProfile:
        return cls(
            fingerprint=data.get("fingerprint"),
            key_max=data.get("key_max"),
            columns={k: ColumnProfile.from_json(v) for k, v in data["columns"].items()},
        )


def cache_dir(configured: object, base_dir: Path) -> Path:
    """Where profiles are kept: the source's ``profile_cache``, else ``$DISCOVER_CACHE_DIR``,
    else the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``) under discover/."""
    return caches.cache_dir(configured, base_dir, "sql-profiles")


class ProfileCache:
    """One source's profiles: in memory, and in one JSON file (mode 0600, dir 0700)."""

    def __init__(self, directory: Path, identity: str) -> None:
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]
        self.path = directory / f"{digest}.json"
        self._tables: dict[str, TableProfile] | None = None

    def _load(self) -> dict[str, TableProfile]:
        if self._tables is None:
            self._tables = {}
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION:
                    self._tables = {k: TableProfile.from_json(v) for k, v in data["tables"].items()}
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("profiles in %s unreadable (%s): learnt again", self.path, exc)
                self._tables = {}
        return self._tables

    def get(self, key: str) -> TableProfile | None:
        return self._load().get(key)

    def put(self, key: str, profile: TableProfile | None) -> None:
        tables = self._load()
        if profile is None:
            tables.pop(key, None)
        else:
            tables[key] = profile
        self._save(tables)

    def _save(self, tables: dict[str, TableProfile]) -> None:
        document = {"version": CACHE_VERSION, "tables": {k: v.to_json() for k, v in tables.items()}}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(document, stream)
                os.chmod(temporary, 0o600)
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            log.warning("column profiles not saved to %s: %s", self.path, exc)


def _index_definitions(connection: Connection, table: str, schema: str | None) -> list[str]:
    backend = connection.dialect.name
    if backend == "sqlite":
        master = sa.table("sqlite_master", *map(sa.column, ("sql", "type", "tbl_name")))
        master.schema = schema
        statement = sa.select(master.c.sql).where(
            master.c.type == "index", master.c.tbl_name == table
        )
        return [row[0] or "" for row in connection.execute(statement)]
    if backend == "postgresql":
        return [
            r[0]
            for r in connection.execute(
                sa.text(
                    "SELECT indexdef FROM pg_indexes WHERE tablename = :table "
                    "AND schemaname = COALESCE(:schema, current_schema())"
                ),
                {"table": table, "schema": schema},
            )
        ]
    return []  # MariaDB has no expression indexes


def _key_list(definition: str) -> str:
    """The text between the first bracket of an index definition and its match."""
    _, _, rest = definition.partition("(")
    depth = 1
    for position, character in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0:
            return rest[:position]
    return rest


def expression_indexed(connection: Connection, table: str, schema: str | None) -> set[str]:
    """Lower-cased names of the columns an expression index is built on.

    Such an index serves the normalising predicate directly (see
    :func:`connectors.sql.predicates.index_expression`), so those columns keep it.
    """
    found: set[str] = set()
    for definition in _index_definitions(connection, table, schema):
        keys = _key_list(definition)
        if "(" not in keys:
            continue  # plain columns only
        for quoted, bare in re.findall(r'"([^"]+)"|(\w+)', keys):
            found.add((quoted or bare).lower())
    return found


def learn_values(
    connection: Connection, clause: sa.TableClause, column: str, profile: ColumnProfile
) -> None:
    """Learn ``profile`` from every distinct value of ``column``, read into Python.

    The general way, for every backend, type and family; the patterns of digit and text
    columns are usually computed by the database instead (:mod:`connectors.sql.learning`).
    """
    if connection.dialect.name == "postgresql":
        # the values are read through a cursor, which PostgreSQL plans for the first
        # rows (an index scan in key order); all of them are wanted: plan for that
        connection.execute(sa.select(sa.func.set_config("cursor_tuple_fraction", "1", True)))
    target = clause.c[column]
    statement = sa.select(target).where(target.is_not(None)).distinct()
    result = connection.execute(statement.execution_options(yield_per=5000))
    try:
        for partition in result.partitions():
            for (value,) in partition:
                profile.add(value)
            if profile.refused is not None:
                break
    finally:
        result.close()
