"""Why a document does not match its schema, in words a user can act on.

Loaded only when a document is not valid (see :func:`discover.config.validate`): the
Python ``jsonschema`` gives every error with its place and the alternatives of a
``oneOf``, from which the most relevant is chosen and explained.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from discover.schemas import shipped_schemas


@cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for uri, contents in shipped_schemas():
        registry = registry.with_resource(uri, Resource.from_contents(contents))
    return registry


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
    if error.validator == "maxLength":
        return (
            path,
            f"{_short(error.instance)} is too long: at most {error.validator_value} characters",
        )
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
