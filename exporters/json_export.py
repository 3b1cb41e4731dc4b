"""The JSON format: one document with a stable key order, schema-validated.

Access packages write ``access.json`` (service -> category -> source -> record),
portability packages ``portability.json`` (one dataset per record type, no prose).
Key order is the order the content builder gives (fixed in code), never sorted or
hash-dependent, so two exports of one case differ only in ``generated_at``. The
schema the document was validated against is copied into ``schema/`` in the package
so that the recipient can validate it too.
"""

from __future__ import annotations

from typing import Any

import orjson

from discover.policy import PackageKind
from exporters.package import PackageWriter
from exporters.schemas import ACCESS, PORTABILITY, schema_bytes, validate

SCHEMAS: dict[str, str] = {"access": ACCESS, "portability": PORTABILITY}


def dumps(document: Any) -> bytes:
    """UTF-8 JSON, indented by two spaces, keys in the order given, newline-terminated."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def write_json_package(writer: PackageWriter, document: dict[str, Any], kind: PackageKind) -> str:
    """Validate and write the document as ``<kind>.json``; returns the file name."""
    schema = SCHEMAS[kind]
    name = f"{kind}.json"
    validate(document, schema, what=name)
    writer.write_bytes(name, dumps(document))
    writer.write_bytes(f"schema/{schema}", schema_bytes(schema))
    return name
