"""Console fixtures: the app over a fresh demo data directory with an officer and a viewer."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from discover.desk.store import Desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

OFFICER = ("olga", "officer password 1")
VIEWER = ("victor", "viewer password 1")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def desk(demo_data: Path) -> Iterator[Desk]:
    opened = Desk.open(demo_data, use_env=False)
    opened.add_user(OFFICER[0], role="officer", password=OFFICER[1], actor="test")
    opened.add_user(VIEWER[0], role="viewer", password=VIEWER[1], actor="test")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def shared_app(demo_template: Path, tmp_path_factory: pytest.TempPathFactory):
    """One console for tests that change nothing (anonymous visitors)."""
    import shutil

    from discover.desk.web.app import create_app

    target = tmp_path_factory.mktemp("shared") / "demo"
    shutil.copytree(demo_template, target)
    opened = Desk.open(target, use_env=False)
    yield create_app(opened)
    opened.close()


@pytest.fixture
def app(desk: Desk):
    from discover.desk.web.app import create_app

    return create_app(desk)


def client(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def log_in(app, user: tuple[str, str]) -> tuple[TestClient, str]:
    """A client with a session, and the session's CSRF token."""
    browser = client(app)
    page = browser.get("/login")
    token = CSRF.search(page.text).group(1)
    response = browser.post(
        "/login", data={"csrf_token": token, "username": user[0], "password": user[1]}
    )
    assert response.status_code == 303, response.text
    listing = browser.get("/requests")
    return browser, CSRF.search(listing.text).group(1)
