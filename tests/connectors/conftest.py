"""Fixtures for the connector tests: one real slapd for the session, spare ones on demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap_support import start_directory
from support.slapd import Slapd


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """Debian's slapd on a free loopback port with the test directory; stopped by PID."""
    server = start_directory(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def spare_slapd(tmp_path: Path) -> Iterator[Slapd]:
    """A slapd of the test's own, for tests that stop or freeze the server."""
    server = start_directory(tmp_path / "slapd")
    try:
        yield server
    finally:
        server.stop()
