"""The shipped JSON Schemas of what users write: sources files, mappings, requests,
the register, case files (``mappings/schemas``). They refer to each other by ``$id``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from discover.errors import ConfigError

SCHEMA_PACKAGE = "mappings"
SCHEMA_DIR = "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A shipped schema by file name, e.g. ``mapping-sql.schema.json``."""
    entry = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR, name)
    if not entry.is_file():
        raise ConfigError(name, "", "no such schema is shipped")
    return json.loads(entry.read_text(encoding="utf-8"))


@cache
def shipped_schemas() -> list[tuple[str, dict[str, Any]]]:
    """Every shipped schema with its ``$id`` (they refer to each other by it)."""
    folder = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR)
    schemas = []
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".schema.json"):
            contents = json.loads(entry.read_text(encoding="utf-8"))
            schemas.append((contents["$id"], contents))
    return schemas
