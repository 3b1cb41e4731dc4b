"""Fixtures for the batch tests: the demo estate and a generated larger one."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import synthetic_estate as synthetic

from discover.demo import build_estate
from discover.demo.estate import DemoLayout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoLayout:
    """The demo estate (SQLite), built once per module; tests only read it."""
    return build_estate(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> synthetic.SynthEstate:
    """300 generated people in 15 organisations, 3,000 call records, a SIM inventory."""
    return synthetic.build(
        tmp_path_factory.mktemp("synth"), synthetic.Sizes(people=300, cdrs=3_000, inventory=300)
    )


@pytest.fixture
def own_synth(tmp_path: Path) -> synthetic.SynthEstate:
    """A generated estate of the test's own (for tests that break a source)."""
    return synthetic.build(tmp_path / "estate", synthetic.Sizes(people=300, cdrs=3_000))
