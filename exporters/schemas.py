"""The published JSON Schemas of packages (``exporters/schemas/*.schema.json``).

Every JSON document a package holds (access.json, portability.json, the CSV
metadata sidecar, the manifest) is validated against its schema before it is
written, so that a package that does not match what we publish is never sent.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from discover.errors import ExportError

ACCESS = "access-package.schema.json"
PORTABILITY = "portability-package.schema.json"
MANIFEST = "manifest.schema.json"
SCHEMA_FILES: tuple[str, ...] = (ACCESS, PORTABILITY, MANIFEST)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One published schema, parsed."""
    entry = resources.files("exporters").joinpath("schemas", name)
    return json.loads(entry.read_text(encoding="utf-8"))


def schema_bytes(name: str) -> bytes:
    """The schema file as shipped (copied into packages next to their JSON)."""
    return resources.files("exporters").joinpath("schemas", name).read_bytes()


@cache
def _validator(name: str) -> Any:
    # jsonschema-rs (Rust): a 100,000-field package validates in milliseconds, where
    # the pure-Python jsonschema takes seconds; the schemas are plain Draft 2020-12.
    return jsonschema_rs.validator_for(load_schema(name), validate_formats=True)


def validate(document: Any, name: str, *, what: str) -> None:
    """Raise ExportError naming the place when ``document`` does not match schema ``name``."""
    validator = _validator(name)
    if validator.is_valid(document):
        return
    error = next(iter(validator.iter_errors(document)))
    where = "/".join(str(p) for p in error.instance_path) or "(top)"
    raise ExportError(f"{what} does not match {name} at {where}: {error.message}")
