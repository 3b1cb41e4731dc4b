"""The JSON formats: schema-valid (checked with a second, independent validator),
stable key order, the schema shipped inside the package, no prose in portability."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from discover.errors import ExportError
from exporters import export_package
from exporters.json_export import dumps
from exporters.schemas import ACCESS, MANIFEST, PORTABILITY, load_schema, validate

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "exporters" / "schemas"


def _validate_with_jsonschema(document: object, name: str) -> None:
    schema = json.loads((REPO_SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)


@pytest.mark.parametrize(("kind", "schema"), [("access", ACCESS), ("portability", PORTABILITY)])
def test_documents_validate_against_the_published_schemas(
    demo_case: Path, tmp_path: Path, kind: str, schema: str
) -> None:
    package = export_package(
        demo_case, kind=kind, formats=["json", "csv"], out=tmp_path, allow_undecided=True
    ).path  # type: ignore[arg-type]
    document = json.loads((package / f"{kind}.json").read_text(encoding="utf-8"))
    _validate_with_jsonschema(document, schema)
    sidecar = json.loads((package / "csv" / "metadata.json").read_text(encoding="utf-8"))
    _validate_with_jsonschema(sidecar, schema)
    _validate_with_jsonschema(json.loads((package / "manifest.json").read_text()), MANIFEST)
    # the schema ships inside the package, byte for byte the published one
    assert (package / "schema" / schema).read_bytes() == (REPO_SCHEMAS / schema).read_bytes()


def test_both_schemas_describe_the_request_alike() -> None:
    """Both packages write the same request record, so a field one schema lacks fails the other."""
    access = json.loads((REPO_SCHEMAS / ACCESS).read_text(encoding="utf-8"))
    portability = json.loads((REPO_SCHEMAS / PORTABILITY).read_text(encoding="utf-8"))
    assert "identifiers_rejected" in portability["properties"]["request"]["properties"]
    assert access["properties"]["request"] == portability["properties"]["request"]


def test_key_order_is_stable(demo_case: Path, tmp_path: Path) -> None:
    first = export_package(
        demo_case, formats=["json"], out=tmp_path / "a", allow_undecided=True
    ).path
    second = export_package(
        demo_case, formats=["json"], out=tmp_path / "b", allow_undecided=True
    ).path
    one = json.loads((first / "access.json").read_text(encoding="utf-8"))
    two = json.loads((second / "access.json").read_text(encoding="utf-8"))
    one.pop("generated_at")
    two.pop("generated_at")
    assert dumps(one) == dumps(two)
    assert list(one)[:7] == [
        "format",
        "format_version",
        "title",
        "language",
        "controller_scope",
        "request",
        "information",
    ]
    field = one["data"][0]["categories"][0]["sources"][0]["records"][0]["fields"][0]
    assert list(field)[:6] == ["field", "label", "value", "value_type", "origin", "withheld"]


def test_english_on_request_dutch_by_default(demo_case: Path, tmp_path: Path) -> None:
    nl = json.loads(
        (
            export_package(
                demo_case, formats=["json"], out=tmp_path / "nl", allow_undecided=True
            ).path
            / "access.json"
        ).read_text(encoding="utf-8")
    )
    en = json.loads(
        (
            export_package(
                demo_case,
                formats=["json"],
                language="en",
                out=tmp_path / "en",
                allow_undecided=True,
            ).path
            / "access.json"
        ).read_text(encoding="utf-8")
    )
    assert nl["language"] == "nl" and "artikel 15 AVG" in nl["title"]
    assert en["language"] == "en" and "Article 15 GDPR" in en["title"]
    assert {r["right"] for r in en["information"]["rights"]} >= {
        "rectification",
        "erasure",
        "restriction",
        "objection",
        "withdraw_consent",
        "portability",
    }
    assert en["information"]["complaint"]["authority"] == "Autoriteit Persoonsgegevens"


def test_portability_json_keeps_stable_names(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(
        demo_case, kind="portability", formats=["json"], out=tmp_path, allow_undecided=True
    ).path
    document = json.loads((package / "portability.json").read_text(encoding="utf-8"))
    assert set(document) == set(load_schema(PORTABILITY)["properties"]) - {"csv"}
    for dataset in document["datasets"]:
        names = [c["name"] for c in dataset["columns"]]
        assert names[0] == "_record_key" and names[-2:] == ["_controller", "_recorded_at"]
        for record in dataset["records"]:
            # the record-level columns are the record's own keys, not values
            assert set(record["values"]) == set(names[1:-2])
            assert record["controller_name"]
    assert {c["legal_basis"] for c in document["categories"]} <= {"contract", "consent"}


def test_a_document_that_breaks_the_schema_is_refused(demo_case: Path, tmp_path: Path) -> None:
    package = export_package(
        demo_case, kind="portability", formats=["json"], out=tmp_path, allow_undecided=True
    ).path
    document = json.loads((package / "portability.json").read_text(encoding="utf-8"))
    validate(document, PORTABILITY, what="portability.json")
    document["format_version"] = 2
    with pytest.raises(ExportError, match="format_version"):
        validate(document, PORTABILITY, what="portability.json")
    document["format_version"] = 1
    document["categories"].append(
        {
            "category": "general.traffic_data",
            "service": "general",
            "controller": "provider",
            "legal_basis": "legal_obligation",
        }
    )
    with pytest.raises(ExportError, match="categories"):
        validate(document, PORTABILITY, what="portability.json")


@pytest.mark.parametrize(("kind", "schema"), [("access", ACCESS), ("portability", PORTABILITY)])
def test_a_partial_request_validates_and_names_the_rejected_identifier(
    demo_case: Path, tmp_path: Path, kind: str, schema: str
) -> None:
    import shutil

    from discover.files import write_json

    case = tmp_path / "case"
    shutil.copytree(demo_case, case)
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    summary["rejected_identifiers"] = [
        {"type": "phone", "value": "06-123 45", "reason": "not a valid phone number"}
    ]
    write_json(case / "summary.json", summary)
    package = export_package(
        case, kind=kind, formats=["json"], out=tmp_path / "out", allow_undecided=True
    ).path  # type: ignore[arg-type]
    document = json.loads((package / f"{kind}.json").read_text(encoding="utf-8"))
    _validate_with_jsonschema(document, schema)
    assert document["request"]["identifiers_rejected"] == [
        {"type": "phone", "value": "06-123 45", "reason": "not a valid phone number"}
    ]
