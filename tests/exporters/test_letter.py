"""letter.html: the first layer of every package, plain and printable, from the same content."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.resealed import reseal

from exporters import export_package
from exporters.letter import LETTER_FILE
from tests.exporters.package_checks import EVERY


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("kind", ["access", "portability"])
def test_every_package_opens_with_a_plain_letter(
    demo_case: Path, tmp_path: Path, kind: str, language: str
) -> None:
    package = export_package(
        demo_case,
        kind=kind,  # type: ignore[arg-type]
        formats=["json"],
        language=language,
        out=tmp_path,
        **EVERY,
    ).path
    html = (package / LETTER_FILE).read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    # no scripts, no external resources: it opens offline, in any browser, safely
    assert "script" not in parser.tags and "iframe" not in parser.tags
    assert not [v for k, v in parser.attributes if k in ("src", "href") and v]
    assert not any(k.startswith("on") for k, _v in parser.attributes)
    assert "size: A4" in html and f'<html lang="{language}">' in html
    text = " ".join(" ".join(parser.text).split())
    document = json.loads((package / f"{kind}.json").read_text(encoding="utf-8"))
    request = document["request"]
    # what we searched for, by type in the package language, as the subject wrote it
    for identifier in request["identifiers"]:
        assert f"{identifier['type_label']} {identifier['value']}" in text
    # one line per category, with its controller
    for category in (
        document["categories"]
        if kind == "portability"
        else [c for s in document["data"] for c in s["categories"]]
    ):
        assert category["title"] in text
        assert category["controller_name"].rstrip(".") in text
    # who answers for what, the rights, the complaint, the deadline
    for part in document["information"]["controller"]["parts"]:
        assert part["organisation"] in text
    assert "Autoriteit Persoonsgegevens" in text
    assert request["deadline"] in text
    withheld = "uw eigen inloggegevens" if language == "nl" else "your own credentials"
    assert withheld in text.lower()
    # the README points to it first
    readme = "LEESMIJ.txt" if language == "nl" else "README.txt"
    lines = (package / readme).read_text(encoding="utf-8").splitlines()
    listed = [line for line in lines if line.startswith("- ")]
    assert listed[0].startswith(f"- {LETTER_FILE}:")


def test_the_letter_escapes_what_it_shows(synthetic_case: Path, tmp_path: Path) -> None:
    import shutil

    from discover.case import read_case
    from discover.files import write_json

    case = tmp_path / "case"
    shutil.copytree(synthetic_case, case)
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    request["subject_name"] = "<script>alert(1)</script>"
    write_json(case / "request.json", request)
    reseal(case)
    assert read_case(case).request.subject_name == "<script>alert(1)</script>"
    package = export_package(case, formats=["json"], out=tmp_path / "out", **EVERY).path
    html = (package / LETTER_FILE).read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_rejected_identifiers_of_a_partial_request_are_shown(
    synthetic_case: Path, tmp_path: Path
) -> None:
    import shutil

    from discover.files import write_json

    case = tmp_path / "case"
    shutil.copytree(synthetic_case, case)
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    summary["rejected_identifiers"] = [
        {"type": "imei", "value": "352099001761480", "reason": "check digit should be 1"}
    ]
    write_json(case / "summary.json", summary)
    package = export_package(case, formats=["json", "xlsx"], out=tmp_path / "out", **EVERY).path
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    # listed once, with the reason, in the JSON, the letter and the XLSX cover
    assert "rejected_identifiers" not in document["request"]
    assert document["request"]["identifiers_rejected"] == [
        {"type": "imei", "value": "352099001761480", "reason": "check digit should be 1"}
    ]
    letter = (package / LETTER_FILE).read_text(encoding="utf-8")
    assert "352099001761480 (check digit should be 1)" in letter
    from openpyxl import load_workbook

    cover = load_workbook(package / "access.xlsx").worksheets[0]
    shown = [c for row in cover.iter_rows(values_only=True) for c in row if c]
    assert sum("352099001761480" in str(c) for c in shown) == 1
