"""Reading YAML/JSON input files and validating them against the shipped schemas.

Every file a user hands discover (mappings, sources files, requests, the
register) goes through here, so that every malformed input gets the same kind of
message: the file, the place inside it and what was expected, e.g.
``crm.yaml: tables.contacts.columns.phone.identifier: 'fone' is not one of [...]``.
"""

from __future__ import annotations

import difflib
import json
import re
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


def _short(value: Any, limit: int = 60) -> str:
    """A value for a message: its repr, cut when long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fitting_branch(error: ValidationError) -> list[ValidationError] | None:
    """The errors of the one/any-of alternative the user evidently meant, if one stands out.

    An alternative whose type does not fit the value, or whose ``const`` discriminator
    (``rule: period``) differs, was not meant; if exactly one other is left (or the
    others have more errors), its errors are the ones worth reporting.
    """
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    meant = {
        index: subs
        for index, subs in branches.items()
        if not any(
            (sub.validator == "type" and not sub.relative_path)
            or (sub.validator == "const" and len(sub.relative_path) <= 1)
            for sub in subs
        )
    }
    if not meant:
        return None
    fewest = min(len(subs) for subs in meant.values())
    best = [subs for subs in meant.values() if len(subs) == fewest]
    return best[0] if len(best) == 1 else None


def _keys_of(schema: Mapping[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


def explain(error: ValidationError) -> tuple[list[Any], str]:
    """The place and a plain message for one validation error.

    jsonschema's own messages are kept where they are clear (``'fone' is not one of
    [...]``); where they are not (a failed ``oneOf``, an unexpected key, a pattern)
    this says what was expected.
    """
    path = list(error.absolute_path)
    if "propertyNames" in error.schema_path:  # the key itself is wrong: point at it
        path.append(error.instance)
    described = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    if error.validator in ("oneOf", "anyOf") and error.context:
        branch = _fitting_branch(error)
        if branch is not None:
            return explain(best_match(branch))
        expected = f"expected {described}" if described else "it matches none of the allowed forms"
        return path, f"{_short(error.instance)} is not valid here: {expected}"
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = _keys_of(error.schema)
        patterns = list(error.schema.get("patternProperties", {}))
        extras = [
            key
            for key in error.instance
            if key not in allowed and not any(re.search(p, str(key)) for p in patterns)
        ]
        if extras:
            hints = []
            for key in extras:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
            where = [*path, extras[0]] if len(extras) == 1 else path
            noun = "unexpected key" if len(extras) == 1 else "unexpected keys"
            listed = f"; allowed here: {', '.join(allowed)}" if allowed else ""
            return where, f"{noun} {', '.join(hints)}{listed}"
    if error.validator == "const":
        return path, f"expected {error.validator_value!r}, got {_short(error.instance)}"
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in (error.instance or {})]
        if not missing:
            return path, error.message
        message = f"required key {missing[0]!r} is missing"
        allowed = _keys_of(error.schema)
        strays = [str(key) for key in error.instance if key not in allowed]
        close = difflib.get_close_matches(missing[0], strays, n=1)
        return path, message + (f" (is {close[0]!r} a misspelling?)" if close else "")
    if error.validator in ("pattern", "minProperties") and described:
        return path, f"{_short(error.instance)} is not valid here: expected {described}"
    if error.validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        return path, f"{_short(error.instance)} is not of type {' or '.join(names)}"
    return path, error.message


def validate(document: Any, schema_name: str, *, file: str) -> None:
    """Validate ``document``; raise ConfigError naming the file, the place and the expectation."""
    errors = schema_errors(document, load_schema(schema_name))
    if not errors:
        return
    explained: list[tuple[str, str]] = []
    for error in errors:
        where, message = explain(error)
        entry = (place(where) or "(top)", message)
        if entry not in explained:
            explained.append(entry)
    (first_place, message), rest = explained[0], explained[1:]
    if rest:
        others = "; ".join(f"{where}: {text}" for where, text in rest[:3])
        more = f" (and {len(rest) - 3} more)" if len(rest) > 3 else ""
        message += f" [also: {others}{more}]"
    raise ConfigError(file, first_place, message)


def shipped_path(*parts: str) -> Path:
    """A file shipped inside the ``mappings`` package (register, example mappings)."""
    return Path(str(resources.files(SCHEMA_PACKAGE).joinpath(*parts)))
