"""Reading YAML/JSON input files and validating them against the shipped schemas.

Every file a user hands discover (mappings, sources files, requests, the
register) goes through here, so that every malformed input gets the same kind of
message: the file, the place inside it and what was expected, e.g.
``crm.yaml: tables.contacts.columns.phone.identifier: 'fone' is not one of [...]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from discover.errors import ConfigError

SCHEMA_PACKAGE = "mappings"
SCHEMA_DIR = "schemas"


def place(path: Iterable[Any]) -> str:
    """Render a JSON path as ``tables.contacts.columns[2].identifier``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def read_document(path: Path, *, label: str | None = None) -> Any:
    """Parse a YAML or JSON file; syntax errors name the line and column."""
    shown = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(shown, "", "expected a file, found a directory") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(shown, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(shown, "", f"cannot be read: {exc.strerror}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                shown, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(shown, where, f"invalid YAML: {problem}") from None


@cache
def _registry() -> Registry:
    registry: Registry = Registry()
    folder = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR)
    for entry in folder.iterdir():
        if entry.name.endswith(".schema.json"):
            contents = json.loads(entry.read_text(encoding="utf-8"))
            registry = registry.with_resource(contents["$id"], Resource.from_contents(contents))
    return registry


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A shipped schema by file name, e.g. ``mapping-sql.schema.json``."""
    entry = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR, name)
    if not entry.is_file():
        raise ConfigError(name, "", "no such schema is shipped")
    return json.loads(entry.read_text(encoding="utf-8"))


def schema_errors(document: Any, schema: Mapping[str, Any]) -> list[ValidationError]:
    """Every validation error, the most relevant first."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, registry=_registry())
    errors = list(validator.iter_errors(document))
    if not errors:
        return []
    first = best_match(errors)
    rest = sorted((e for e in errors if e is not first), key=lambda e: list(e.absolute_path))
    return [first, *rest]


def validate(document: Any, schema_name: str, *, file: str) -> None:
    """Validate ``document``; raise ConfigError naming the file and the place."""
    errors = schema_errors(document, load_schema(schema_name))
    if not errors:
        return
    first = errors[0]
    message = first.message
    if len(errors) > 1:
        others = "; ".join(f"{place(e.absolute_path) or '(top)'}: {e.message}" for e in errors[1:4])
        more = f" (and {len(errors) - 4} more)" if len(errors) > 4 else ""
        message += f" [also: {others}{more}]"
    raise ConfigError(file, place(first.absolute_path) or "(top)", message)


def shipped_path(*parts: str) -> Path:
    """A file shipped inside the ``mappings`` package (register, example mappings)."""
    return Path(str(resources.files(SCHEMA_PACKAGE).joinpath(*parts)))
