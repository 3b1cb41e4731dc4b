"""The console in a real browser: Playwright driving Debian's chromium.

Screenshots of every page are kept as test artefacts: under ``$DISCOVER_ARTEFACTS``
when set, else in the test's temporary directory (pytest keeps the last three runs).
Under CI=true a missing chromium or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from discover.cli import cli
from exporters import verify_package
from tests.conftest import server_missing
from tests.discover.desk.web.server import serve

CHROMIUM = Path(os.environ.get("DISCOVER_CHROMIUM", "/usr/bin/chromium"))
SUBJECT_EMAIL = "jan.devries@acme-logistiek.nl"

#: For every visible form control: a label. For every link, button and control: reachable
#: by Tab (no negative tabindex). Returns the problems found.
ACCESSIBILITY_JS = """
() => {
  const problems = [];
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label');
    if (!named) problems.push('no label: ' + (el.name || el.id || el.outerHTML.slice(0, 60)));
  }
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if (el.tabIndex < 0) problems.push('not focusable: ' + el.outerHTML.slice(0, 60));
  }
  return problems;
}
"""
#: Numbers every Tab stop: visible link, button and field (data-tab-probe) and returns how many.
FOCUSABLE_COUNT_JS = """
() => {
  const all = [...document.querySelectorAll('a[href], button, input, select, textarea')]
    .filter(el => el.type !== 'hidden' && (el.offsetWidth || el.offsetHeight))
    // a radio group is one Tab stop (arrow keys move inside it): count its checked one
    .filter(el => el.type !== 'radio' || el.checked);
  all.forEach((el, i) => { el.dataset.tabProbe = String(i); });
  return all.length;
}
"""


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    base = os.environ.get("DISCOVER_ARTEFACTS")
    target = Path(base) / "console" if base else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        server_missing("Playwright", str(exc))
    if not CHROMIUM.is_file():
        server_missing("chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def _check_page(page, shots: Path, name: str) -> None:
    """Screenshot the page, check labels and focusability, and walk it with Tab."""
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert page.evaluate(ACCESSIBILITY_JS) == [], name
    assert SUBJECT_EMAIL not in page.title().lower() and SUBJECT_EMAIL not in page.url
    # Tab from the top reaches every link, button and field of the page, in order.
    reachable = page.evaluate(FOCUSABLE_COUNT_JS)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.locator("body").focus()
    seen: set[str] = set()
    for _ in range(reachable * 4 + 4):  # date fields take a Tab per part
        page.keyboard.press("Tab")
        probe = page.evaluate("document.activeElement.dataset.tabProbe || ''")
        if probe:
            seen.add(probe)
        if len(seen) >= reachable:
            break
    assert len(seen) >= reachable, (name, reachable, len(seen))


def test_officer_answers_a_request_in_the_browser(
    browser, demo_data: Path, tmp_path: Path, artefacts: Path
) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "olga",
            "--role",
            "officer",
            "--password-env",
            "PW",
            "--data",
            str(demo_data),
        ],
        env={"PW": "olga's long password"},
    )
    assert added.exit_code == 0, added.output
    with serve(demo_data, tmp_path / "serve.log") as server:
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1200, "height": 800}
        )
        page = context.new_page()
        page.set_default_timeout(60_000)

        response = page.goto(f"{server.url}/requests")
        assert response.status == 401
        _check_page(page, artefacts, "01-anonymous")

        # log in with the keyboard only
        page.goto(f"{server.url}/login")
        _check_page(page, artefacts, "02-login")
        page.get_by_label("User name").focus()
        page.keyboard.type("olga")
        page.keyboard.press("Tab")
        page.keyboard.type("olga's long password")
        page.keyboard.press("Enter")
        page.wait_for_url("**/requests")
        assert "REQ-DEMO-0001" in page.content()
        _check_page(page, artefacts, "03-requests")

        # register a request
        page.get_by_role("link", name="New request").click()
        _check_page(page, artefacts, "04-new-request")
        page.get_by_label("Request id").fill("REQ-BROWSER-1")
        page.get_by_label("Kind").select_option("access")
        page.get_by_label("email", exact=True).fill("Jan.deVries@acme-logistiek.nl")
        page.get_by_label("name", exact=True).fill("Jan de Vries")
        page.get_by_label("phone", exact=True).fill("12")
        page.get_by_role("button", name="Register the request").click()
        assert "phone: phone number" in page.get_by_role("alert").inner_text()
        _check_page(page, artefacts, "05-new-request-error")
        page.get_by_label("phone", exact=True).fill("")
        page.get_by_role("button", name="Register the request").click()
        page.wait_for_url("**/requests/REQ-BROWSER-1")
        assert page.title().startswith("Request REQ-BROWSER-1")
        _check_page(page, artefacts, "06-request")

        # run the search on the demo estate and watch it finish
        page.get_by_role("button", name="Run the search").click()
        page.wait_for_url("**/jobs/*")
        page.locator("#done-link").wait_for(state="visible")
        assert page.locator("#progress").evaluate("p => p.value === p.max && p.max > 1")
        assert "possible match" in page.locator("#status").inner_text()
        _check_page(page, artefacts, "07-search-job")
        page.get_by_role("link", name="Open the case").click()
        assert page.get_by_role("heading", name="Records by source").is_visible()
        assert page.get_by_role("heading", name="crm").is_visible()
        _check_page(page, artefacts, "08-case")

        # confirm a possible match
        page.get_by_role("link", name="Review").first.click()
        first = page.locator("section.review-item form").first
        number = first.locator('input[name="index"]').get_attribute("value")
        first.get_by_label(f"Reason for #{number}").fill("same person: employer and e-mail agree")
        first.get_by_role("button", name=f"Confirm #{number}").click()
        assert f"confirmed #{number}" in page.get_by_role("status").inner_text()
        _check_page(page, artefacts, "09-review")

        # export and download the zip
        page.get_by_role("link", name="Export").first.click()
        _check_page(page, artefacts, "10-export")
        page.get_by_label("xlsx").check()
        page.get_by_label("Language").select_option("en")
        # the scope is the provider's own by default; all needs the client's instruction
        assert page.get_by_label("Controller scope").input_value() == "provider"
        page.get_by_label("Controller scope").select_option("all")
        page.get_by_label("Client's instruction").fill("ACME-2026-17")
        page.get_by_role("button", name="Write the package").click()
        assert "package written" in page.get_by_role("status").inner_text()
        _check_page(page, artefacts, "11-request-exported")
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download REQ-BROWSER-1-access (zip)").click()
        saved = tmp_path / "download.zip"
        download_info.value.save_as(saved)
        with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
            archive.extractall(tmp_path / "unzipped")
        package = tmp_path / "unzipped" / "REQ-BROWSER-1-access"
        manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
        names = {entry["path"] for entry in manifest["files"]}
        assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".json") for n in names)
        assert verify_package(package) == []

        # the audit trail tells the story, without the subject's identifiers
        page.get_by_role("link", name="Audit trail").click()
        _check_page(page, artefacts, "12-audit")
        text = page.locator("main").inner_text()
        assert "chain intact" in text
        for action in ("registered", "searched", "reviewed", "exported", "downloaded"):
            assert action in text
        assert SUBJECT_EMAIL not in text.lower()

        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/login")
        assert page.goto(f"{server.url}/requests").status == 401
        context.close()
    shots = sorted(p.name for p in artefacts.glob("*.png"))
    assert len(shots) == 12, shots
