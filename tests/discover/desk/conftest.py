"""Fixtures of the desk tests: a demo data directory built once, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from discover.cli import cli


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``discover demo --out DIR`` once per session."""
    out = tmp_path_factory.mktemp("desk-demo") / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def demo_data(demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo data directory (estate, case, packages, register)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    # the register links point at the template's files: re-link them to the copy
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{target / 'desk.sqlite'}")
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE request_links SET path = replace(path, :old, :new)"),
            {"old": str(demo_template.resolve()), "new": str(target.resolve())},
        )
    engine.dispose()
    return target
