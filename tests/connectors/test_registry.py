"""The registry and every per-identifier-type table, against the one list of types.

A new identifier type is added to ``IdentifierType`` in discover/identifiers.py;
these tests then name every table that must learn it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors import KINDS, connector_class
from connectors.directory.mapping import TRANSFORM_TYPES
from connectors.sql.predicates import PREDICATES
from connectors.tabular.exprs import CANDIDATES, DAMAGEABLE, REPORTED
from connectors.tabular.mapping import DIGIT_TYPES
from discover.cli.search import _EXAMPLES, IDENTIFIER_FLAGS
from discover.config import shipped_path
from discover.errors import _KIND_LABELS
from discover.identifiers import _NORMALISERS, IDENTIFIER_TYPES, WEAK_TYPES

SCHEMAS = shipped_path("schemas")
TYPES = set(IDENTIFIER_TYPES)


def _schema(name: str) -> dict:
    return json.loads(Path(SCHEMAS, name).read_text("utf-8"))


def test_kinds_equal_the_sources_schema_enum() -> None:
    kind = _schema("sources.schema.json")["properties"]["sources"]["items"]["properties"]["kind"]
    assert sorted(KINDS) == sorted(kind["enum"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_resolves_to_a_connector_with_its_schema(kind: str) -> None:
    cls = connector_class(kind)
    assert cls.kind == kind
    assert Path(SCHEMAS, cls.mapping_schema).is_file()


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="one of ldap, ldif, sql, tabular, voip"):
        connector_class("nosql")


def test_the_mapping_schema_lists_exactly_the_identifier_types() -> None:
    enum = _schema("common.schema.json")["$defs"]["identifier_type"]["enum"]
    assert sorted(enum) == sorted(TYPES)


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("normalisers", _NORMALISERS),
        ("SQL predicates", PREDICATES),
        ("tabular candidates", CANDIDATES),
        ("messages' labels", _KIND_LABELS),
        ("search flags", IDENTIFIER_FLAGS),
        ("search examples", _EXAMPLES),
    ],
)
def test_every_per_type_table_covers_every_type(name: str, table: dict) -> None:
    assert set(table) == TYPES, name


@pytest.mark.parametrize(
    ("name", "subset"),
    [
        ("weak types", WEAK_TYPES),
        ("digit types", DIGIT_TYPES),
        ("damageable", DAMAGEABLE),
        ("reported damage", REPORTED),
        *((f"directory transform {t}", types) for t, types in TRANSFORM_TYPES.items()),
    ],
)
def test_every_type_subset_names_known_types(name: str, subset: frozenset[str]) -> None:
    assert subset, name
    assert set(subset) <= TYPES, name


def _printed_by(program: str) -> list[str]:
    """What ``program`` prints, run in a fresh interpreter (nothing loaded yet)."""
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=True,
    )
    return done.stdout.split()


def test_an_ldif_source_reads_its_directory_mapping_without_the_ldap_client() -> None:
    """Every search of an LDIF export loads its mapping: the LDAP client is not needed."""
    program = (
        "import sys\n"
        "from connectors.registry import load_mapping\n"
        "from discover.config import shipped_path\n"
        "from discover.register import default_register\n"
        "loaded = load_mapping(shipped_path('directory', 'inetorgperson.yaml'),\n"
        "                      default_register(), expected_kind='ldif')\n"
        "print(loaded.kind, 'ldap3' in sys.modules)\n"
    )
    assert _printed_by(program) == ["ldap", "False"]


def test_the_sql_connector_loads_no_mysql_dialect_until_a_mariadb_column_is_learnt() -> None:
    """A search of SQLite or PostgreSQL sources does not load MariaDB's dialect (some
    10 ms of every search's start)."""
    program = (
        "import sys\n"
        "import connectors.sql.connector, connectors.sql.learning\n"
        "print('sqlalchemy.dialects.mysql' in sys.modules)\n"
    )
    assert _printed_by(program) == ["False"]


def test_the_tabular_connector_loads_numpy_only_where_it_reads_a_csv_by_place() -> None:
    """numpy (some 60 ms) loads where a CSV is split or its index built, not with the
    connector, which every search loads before its first scan."""
    program = (
        "import sys\n"
        "import connectors.tabular.connector, connectors.tabular.csv_rows\n"
        "import connectors.tabular.store\n"
        "print('numpy' in sys.modules)\n"
    )
    assert _printed_by(program) == ["False"]
