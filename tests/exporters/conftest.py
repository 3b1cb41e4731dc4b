"""Fixtures: the demo's real case (estate built and searched) and synthetic cases.

Session-scoped cases are built once and never modified; a test that records
decisions or exports into the case gets its own copy (``fresh_case``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.synthetic_case import write_synthetic_case

from discover.case import write_case
from discover.demo import build_estate
from discover.engine import search
from discover.request import load_request
from discover.sources import load_sources


@pytest.fixture(scope="session")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo subject's case, as `discover demo` searches it."""
    root = tmp_path_factory.mktemp("demo")
    layout = build_estate(root / "demo")
    result = search(load_request(layout.request), load_sources(layout.sources))
    write_case(result, layout.case)
    return layout.case


@pytest.fixture(scope="session")
def synthetic_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A constructed case whose secret hits wrongly hold values (a buggy connector)."""
    path = tmp_path_factory.mktemp("synthetic") / "case"
    write_synthetic_case(path, 1500, leak_secrets=True)
    return path


@pytest.fixture
def fresh_case(tmp_path: Path) -> Callable[[Path], Path]:
    """A private copy of a session case, for tests that change it."""

    def copy(case: Path) -> Path:
        target = tmp_path / "case"
        shutil.copytree(case, target)
        return target

    return copy
