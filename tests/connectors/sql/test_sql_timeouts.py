"""Locks and silent servers: every SQL source has a time limit, then fails by name.

A table held in ACCESS EXCLUSIVE mode by another PostgreSQL session, a MariaDB
``LOCK TABLES … WRITE``, an SQLite database another process holds exclusively, and a
port that accepts connections and never answers: each used to hang the search. Now
the source fails with its name and the limit it ran into, and the rest goes on.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from sql_support import connector, create, ident

from connectors.sql.connector import SqlConnector
from discover.errors import SourceError

MAPPING: dict[str, Any] = {
    "tables": {
        "contacts": {
            "key": "id",
            "category": "general.contact",
            "columns": {"id": {}, "email": {"identifier": "email"}},
        }
    }
}


def _contacts(url: str) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "contacts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200)),
    )
    create(url, metadata, {"contacts": [{"id": 1, "email": "jan@example.nl"}]})


def _limited(url: str, **timeouts: float) -> SqlConnector:
    built = connector(url, MAPPING)
    built.source.connection.update(timeouts)
    return built


@contextmanager
def silent_server() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_postgresql_table_locked_by_another_session(postgres_url: str) -> None:
    _contacts(postgres_url)
    holder = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with holder.connect() as session:
            session.execute(sa.text("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE"))
            target = _limited(postgres_url, timeout=1)
            try:
                with pytest.raises(SourceError) as caught:
                    target.scan([ident("email", "jan@example.nl")])
            finally:
                target.close()
            session.rollback()
    finally:
        holder.dispose()
    assert caught.value.source == "testdb"
    assert "lock timeout" in caught.value.message or "statement timeout" in caught.value.message
    assert "timeout 1 s per statement or lock wait" in caught.value.message
    assert caught.value.transient is True


def test_mariadb_lock_tables_write(mariadb_url: str) -> None:
    _contacts(mariadb_url)
    parts = sa.make_url(mariadb_url)
    holder = pymysql.connect(
        host=parts.host, port=parts.port or 3306, user=parts.username, database=parts.database
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLES contacts WRITE")
        target = _limited(mariadb_url, timeout=1)
        try:
            with pytest.raises(SourceError) as caught:
                target.scan([ident("email", "jan@example.nl")])
        finally:
            target.close()
        with holder.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
    finally:
        holder.close()
    assert caught.value.source == "testdb"
    message = caught.value.message.lower()
    assert "lock wait timeout" in message or "max_statement_time" in message, message
    assert "timeout 1 s per statement or lock wait" in caught.value.message


def test_sqlite_database_held_exclusively(sqlite_url: str) -> None:
    _contacts(sqlite_url)
    holder = sqlite3.connect(sa.make_url(sqlite_url).database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        target = _limited(sqlite_url, timeout=0.2)
        try:
            with pytest.raises(SourceError, match="database is locked") as caught:
                target.scan([ident("email", "jan@example.nl")])
        finally:
            target.close()
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert "timeout 0.2 s" in caught.value.message


@pytest.mark.parametrize(
    "scheme", ["mysql+pymysql://root@127.0.0.1", "postgresql+psycopg://postgres@127.0.0.1"]
)
def test_a_server_that_accepts_and_never_answers(scheme: str) -> None:
    with silent_server() as port:
        target = _limited(f"{scheme}:{port}/db", connect_timeout=1, timeout=1)
        try:
            with pytest.raises(SourceError) as caught:
                target.check()
        finally:
            target.close()
    assert caught.value.source == "testdb"
    assert "connect_timeout 1 s" in caught.value.message, caught.value.message
    assert caught.value.transient is True


@pytest.mark.parametrize("value", [0, -5, "soon", True])
def test_a_timeout_that_is_not_a_positive_number_is_refused(sqlite_url: str, value: Any) -> None:
    _contacts(sqlite_url)
    target = _limited(sqlite_url, timeout=value)
    with pytest.raises(SourceError, match=r"connection.timeout must be a number of seconds"):
        target.check()


def test_the_limits_do_not_disturb_a_normal_search(database_url: str) -> None:
    _contacts(database_url)
    target = _limited(database_url, timeout=5, connect_timeout=5)
    try:
        result = target.scan([ident("email", "jan@example.nl")])
    finally:
        target.close()
    assert [record.key for record in result.records] == ["id=1"]


def test_an_sqlite_path_that_is_a_fifo_is_refused_by_kind(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "crm.sqlite")
    target = _limited(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    with pytest.raises(SourceError, match=r"crm\.sqlite: a FIFO \(named pipe\), not a regular"):
        target.check()
