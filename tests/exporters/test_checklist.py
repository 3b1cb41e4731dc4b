"""The Art. 15 checklist: every package, in every language and format, carries every
item of Art. 15(1)(a)-(h) and 15(2), each as the processing register states it.

Access and portability × Dutch and English × JSON, CSV (its metadata sidecar) and
XLSX (its cover sheet). The expected texts are taken from the register (and the
package texts file) directly, never from the package, so a package that drops an
item, or invents one the register does not hold, fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from discover.register import default_register
from exporters import export_package
from exporters.content import texts
from tests.exporters.package_checks import EVERY

RIGHTS = ("rectification", "erasure", "restriction", "objection")  # Art. 15(1)(e)


def expected_items(category_id: str, language: str) -> dict[str, list[str]]:
    """Art. 15(1)(a)-(d) and 15(2) for one category, straight from the register."""
    register = default_register()
    category = register.category(category_id)
    t = texts()
    purposes = [register.purposes[p][language] for p in category.purposes]
    if "purposes" in category.statement_silent:
        purposes.append(t["purposes_unstated"][language])
    recipients = [register.recipients[r][language] for r in category.recipients]
    if "recipients" in category.statement_silent:
        recipients.append(t["recipients_unstated"][language])
    transfers = [
        register.recipients[r]["outside_eea"][language] for r in register.transfers(category_id)
    ]
    return {
        "a_purposes": purposes,  # (a)
        "b_category": [category.description[language]],  # (b)
        "c_recipients": recipients or [t["no_recipients"][language]],  # (c)
        "d_retention": [category.retention.describe(language)],  # (d)
        "15_2_transfers": transfers or [t["no_transfers"][language]],  # Art. 15(2)
        "legal_basis": [register.legal_bases[category.legal_basis][language]],
    }


def expected_general(language: str) -> dict[str, list[str]]:
    """Art. 15(1)(e)-(h): the same for every package."""
    register = default_register()
    t = texts()
    rights = {r["id"]: r[language] for r in t["rights"]}
    return {
        "e_rights": [rights[r] for r in RIGHTS],
        "f_complaint": [register.authority["name"]],
        "g_source": [t["source_of_data"][language].format(provider=register.organisation["name"])],
        "h_automated": [t["automated_decisions"][language]],
    }


def _flatten(value: Any) -> str:
    """Every string in a JSON value, one per line (texts compared as written)."""
    if isinstance(value, dict):
        return "\n".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_flatten(v) for v in value)
    return str(value) if value is not None else ""


def _categories_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "data" in document:
        return [c for service in document["data"] for c in service["categories"]]
    return document["categories"]


def _check_document(document: dict[str, Any], language: str, where: str) -> set[str]:
    categories = _categories_of(document)
    assert categories, f"{where}: no categories"
    for entry in categories:
        for item, wanted in expected_items(entry["category"], language).items():
            text = _flatten(entry)
            for piece in wanted:
                assert piece in text, f"{where}: {entry['category']}: {item}: {piece!r}"
        assert entry["controller_name"], f"{where}: {entry['category']}: no controller"
    general = _flatten(document["information"])
    for item, wanted in expected_general(language).items():
        for piece in wanted:
            assert piece in general, f"{where}: {item}: {piece!r}"
    return {c["category"] for c in categories}


def _cover_text(path: Path) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    cover = book.worksheets[0]
    lines = [str(c) for row in cover.iter_rows(values_only=True) for c in row if c is not None]
    book.close()
    return "\n".join(lines)


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("kind", ["access", "portability"])
def test_every_art_15_item_in_every_format(
    demo_case: Path, tmp_path: Path, kind: str, language: str
) -> None:
    package = export_package(
        demo_case,
        kind=kind,  # type: ignore[arg-type]
        formats=["json", "csv", "xlsx"],
        language=language,
        out=tmp_path,
        **EVERY,
    ).path
    document = json.loads((package / f"{kind}.json").read_text(encoding="utf-8"))
    held = _check_document(document, language, f"{kind}.json")
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    assert _check_document(sidecar, language, "csv/metadata.json") == held
    cover = _cover_text(package / f"{kind}.xlsx")
    for category in held:
        for item, wanted in expected_items(category, language).items():
            for piece in wanted:
                assert piece in cover, f"{kind}.xlsx: {category}: {item}: {piece!r}"
    for item, wanted in expected_general(language).items():
        for piece in wanted:
            assert piece in cover, f"{kind}.xlsx: {item}: {piece!r}"
    # the first layer carries the same, in plain words
    letter = (package / "letter.html").read_text(encoding="utf-8")
    register = default_register()
    for category in held:
        assert register.category(category).named(language) in letter
    assert register.authority["name"] in letter
    # citations as a Dutch or English reader expects them
    citation = "art. 15 lid 4 AVG" if language == "nl" else "Art. 15(4) GDPR"
    everything = json.dumps(document, ensure_ascii=False) + cover
    assert citation in everything or kind == "portability"
    assert ("AVG/GDPR" not in everything) and ("art. 6(1)" not in everything)
    if kind == "portability":
        assert held.isdisjoint({"general.traffic_data", "general.call_recordings", "web.analytics"})


def test_a_category_missing_from_the_statement_is_flagged_everywhere(
    demo_case: Path, tmp_path: Path
) -> None:
    package = export_package(demo_case, formats=["json", "xlsx"], out=tmp_path, **EVERY).path
    document = json.loads((package / "access.json").read_text(encoding="utf-8"))
    directory = [c for c in _categories_of(document) if c["category"] == "managed_it.directory"]
    assert directory and all(c["in_statement"] is False for c in directory)
    notice = texts()["category_not_in_statement"]["nl"]
    assert all(c["statement_notice"] == notice for c in directory)
    assert notice in _cover_text(package / "access.xlsx")
    assert "niet vermeld in onze privacyverklaring" in json.dumps(directory, ensure_ascii=False)
