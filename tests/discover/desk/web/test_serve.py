"""``discover serve`` for real: the check of a fresh demo data directory, and its log."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from click.testing import CliRunner

from discover.cli import cli
from tests.discover.desk.web.server import serve

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_fresh_demo_directory_served_to_staff_only(demo_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "requests",
            "add",
            "--data",
            str(demo_data),
            "--id",
            "REQ-S1",
            "--kind",
            "access",
            "--received",
            "2026-11-16",
            "--phone",
            "06-12345678",
        ],
    )
    assert added.exit_code == 0, added.output
    user = runner.invoke(
        cli,
        [
            "users",
            "add",
            "anna",
            "--role",
            "officer",
            "--password-env",
            "PW",
            "--data",
            str(demo_data),
        ],
        env={"PW": "anna's long password"},
    )
    assert user.exit_code == 0, user.output
    log = tmp_path / "serve.log"
    with serve(demo_data, log) as server, httpx.Client(base_url=server.url) as http:
        for path in (
            "/",
            "/requests",
            "/requests/REQ-S1",
            "/requests/new",
            "/audit",
            "/requests/REQ-S1/case",
            "/requests/REQ-S1/export",
        ):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert "06-12345678" not in refused.text and "REQ-S1" not in refused.text
        page = http.get("/login")
        assert page.status_code == 200 and CSRF.search(page.text)
        assert "default-src 'none'" in page.headers["content-security-policy"]
        logged_in = http.post(
            "/login",
            data={
                "csrf_token": CSRF.search(page.text).group(1),
                "username": "anna",
                "password": "anna's long password",
            },
        )
        assert logged_in.status_code == 303
        listing = http.get("/requests")
        assert listing.status_code == 200
        assert "REQ-S1" in listing.text and "REQ-DEMO-0001" in listing.text
        shown = http.get("/requests/REQ-S1")
        assert "+31612345678" in shown.text or "06-12345678" in shown.text
    text = log.read_text()
    assert "http://127.0.0.1:" in text  # bound to this machine by default
    assert "GET /requests/REQ-S1" in text  # the access log is on ...
    for secret in ("612345678", "anna's long password", "anna"):
        assert secret not in text  # ... and names neither identifiers nor staff nor passwords
    verified = runner.invoke(cli, ["audit", "verify", "--data", str(demo_data)])
    assert verified.exit_code == 0, verified.output
