"""Reading YAML/JSON input files and validating them against the shipped schemas.

Every file a user hands discover (mappings, sources files, requests, the
register) goes through here, so that every malformed input gets the same kind of
message: the file, the place inside it and what was expected, e.g.
``crm.yaml: tables.contacts.columns.phone.identifier: 'fone' is not one of [...]``.

Parsing is stricter than YAML and JSON libraries are by default: a key given twice
in one mapping is refused (naming both lines) instead of the last one silently
winning, and YAML aliases may not expand a document by more than a few thousand
nodes, so that a kilobyte-sized "billion laughs" file cannot take minutes and
gigabytes to check.
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
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from discover.errors import ConfigError

SCHEMA_PACKAGE = "mappings"
SCHEMA_DIR = "schemas"
#: how many nodes YAML aliases may add to a document by repeating what they refer to
MAX_ALIAS_EXPANSION = 5000
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _expanded_size(root: Node, limit: int) -> int | None:
    """How many nodes ``root`` has once every alias is expanded; None past ``limit``.

    Each node is sized once (memoised), so that measuring a bomb costs what the file
    holds, not what it would expand to.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int | None:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            return None  # refers to itself: endless expansion
        active.add(key)
        total = 1
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        for child in children:
            inner = size(child)
            if inner is None or total + inner > limit:
                return None
            total += inner
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _distinct_nodes(root: Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
    return len(seen)


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader (libyaml's parser where installed: every command reads a
    sources file and mappings), refusing duplicate keys and alias bombs."""

    def get_single_node(self) -> Node | None:
        node: Node | None = super().get_single_node()
        if node is not None:
            distinct = _distinct_nodes(node)
            if _expanded_size(node, distinct + MAX_ALIAS_EXPANSION) is None:
                raise ComposerError(
                    None,
                    None,
                    f"aliases (*name) expand this document by more than {MAX_ALIAS_EXPANSION} "
                    "nodes, or refer to themselves; write the values out",
                    node.start_mark,
                )
        return node

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (lines {first_line[key]} and {line}); "
                        "give each key once",
                        key_node.start_mark,
                    )
                first_line[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _duplicate_lines(text: str) -> tuple[str, int, int] | None:
    """The first key given twice in one JSON object, with both lines."""
    stack: list[dict[str, int] | None] = []
    line, position = 1, 0
    tokens = list(_JSON_TOKEN.finditer(text))
    for index, token in enumerate(tokens):
        line += text.count("\n", position, token.start())
        position = token.start()
        lexeme = token.group()
        if lexeme in ("{", "["):
            stack.append({} if lexeme == "{" else None)
        elif lexeme in ("}", "]"):
            if stack:
                stack.pop()
        elif lexeme.startswith('"') and stack and stack[-1] is not None:
            following = tokens[index + 1].group() if index + 1 < len(tokens) else ""
            if following == ":":
                key = json.loads(lexeme)
                seen = stack[-1]
                if key in seen:
                    return key, seen[key], line
                seen[key] = line
    return None


def parse_json(text: str, *, file: str, first_line: int = 1) -> Any:
    """Parse JSON text; a syntax error or a key given twice in one object names the line."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            file,
            f"line {exc.lineno + first_line - 1} column {exc.colno}",
            f"invalid JSON: {exc.msg}",
        ) from None
    except _DuplicateKey as exc:
        found = _duplicate_lines(text)
        key, first, second = found if found else (exc.args[0], 0, 0)
        offset = first_line - 1
        lines = (
            f"twice on line {second + offset}"
            if first == second
            else f"lines {first + offset} and {second + offset}"
        )
        raise ConfigError(
            file, f"line {second + offset}", f"duplicate key {key!r} ({lines}); give each key once"
        ) from None
    except RecursionError:
        raise ConfigError(file, "", "nested too deeply") from None


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
        return parse_json(text, file=shown)
    return parse_yaml(text, file=shown)


def parse_yaml(text: str, *, file: str) -> Any:
    """Parse YAML text strictly (see the module's docstring); errors name the line."""
    shown = file
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(shown, "", "nested too deeply") from None
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
