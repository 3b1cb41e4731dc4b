"""Shared fixtures: real database servers, each test with its own database.

PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB (127.0.0.1:3306, root) are
used for real. Each fixture creates a database with a unique name and drops it
afterwards. Under CI (CI=true) a missing server fails the test; on a laptop without
servers the test is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "DISCOVER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get(
    "DISCOVER_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test"
)
REDIS_URL = os.environ.get("DISCOVER_TEST_REDIS", "redis://127.0.0.1:6379/0")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def server_missing(what: str, reason: str) -> None:
    """Fail under CI, skip elsewhere: a server test must never pass by not running."""
    message = f"{what} is not available: {reason}"
    if under_ci():
        pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def unique_name(prefix: str = "discover_test") -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


@pytest.fixture(autouse=True)
def _sql_profile_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQL column profiles go to a directory of the test run, never the user's cache."""
    if "DISCOVER_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("DISCOVER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped afterwards."""
    admin_url = sa.make_url(PG_ADMIN_URL)
    if not _port_open(admin_url.host or "127.0.0.1", admin_url.port or 5432):
        server_missing("PostgreSQL", f"nothing listens on {admin_url.host}:{admin_url.port}")
    name = unique_name()
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        server_missing("PostgreSQL", str(exc.orig))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database; dropped afterwards."""
    admin_url = sa.make_url(MARIADB_ADMIN_URL)
    if not _port_open(admin_url.host or "127.0.0.1", admin_url.port or 3306):
        server_missing("MariaDB", f"nothing listens on {admin_url.host}:{admin_url.port}")
    name = unique_name()
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(
                sa.text(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
    except sa.exc.OperationalError as exc:
        admin.dispose()
        server_missing("MariaDB", str(exc.orig))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test against SQLite, PostgreSQL and MariaDB."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def redis_url() -> str:
    """The local Redis (tests use their own key prefix or database number)."""
    url = urlsplit(REDIS_URL)
    if not _port_open(url.hostname or "127.0.0.1", url.port or 6379):
        server_missing("Redis", f"nothing listens on {url.hostname}:{url.port}")
    return REDIS_URL
