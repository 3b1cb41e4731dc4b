"""The JSON package format: one document with a stable key order, schema-validated.

The document is validated against ``exporters/schemas/access-package.schema.json``
before it is written, so a package that does not match its published schema is never
sent out.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from discover.errors import ExportError
from exporters.package import PackageWriter

SCHEMA_FILE = "access-package.schema.json"


@cache
def package_schema() -> dict[str, Any]:
    """The published JSON Schema of JSON packages."""
    entry = resources.files("exporters").joinpath("schemas", SCHEMA_FILE)
    return json.loads(entry.read_text(encoding="utf-8"))


def validate_package(document: dict[str, Any]) -> None:
    """Raise ExportError when a package document does not match its schema."""
    validator = jsonschema.Draft202012Validator(
        package_schema(), format_checker=jsonschema.FormatChecker()
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ExportError(f"package does not match {SCHEMA_FILE} at {where}: {error.message}")


def write_json_package(writer: PackageWriter, document: dict[str, Any], name: str) -> None:
    """Validate and write the document as ``name`` (UTF-8, indented, keys as built)."""
    validate_package(document)
    with writer.open(name, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
