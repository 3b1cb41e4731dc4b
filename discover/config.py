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

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from discover.errors import ConfigError
from discover.schemas import SCHEMA_PACKAGE, load_schema, shipped_schemas

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
def _fast_registry() -> Any:
    """The shipped schemas for jsonschema-rs (they refer to each other by ``$id``)."""
    import jsonschema_rs

    return jsonschema_rs.Registry(shipped_schemas())


@cache
def _fast_validator(schema_name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(
        load_schema(schema_name), validate_formats=False, registry=_fast_registry()
    )


#: characters Python's ``\s`` takes for white space and Rust's regex does not (the
#: ASCII file, group, record and unit separators): a schema ``pattern`` with ``\s``
#: could pass a text holding them in Rust and refuse it in Python
_SEPARATORS = frozenset("\x1c\x1d\x1e\x1f")


def _plain(document: Any) -> bool:
    """Whether no text of ``document`` (key or value) holds one of :data:`_SEPARATORS`."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if not _SEPARATORS.isdisjoint(value):
                return False
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return True


def _passes(document: Any, schema_name: str) -> bool:
    """Whether ``document`` is valid by jsonschema-rs (Rust: microseconds a document).

    Only a "valid" from it is taken, and only where both libraries read the schema
    alike: anything else (invalid, a value JSON has no type for such as a YAML date,
    a text holding a separator character, the validator failing) goes to the careful
    check, which decides and explains. Where the two differ otherwise, Rust's regex is
    the stricter (``$`` does not match before a final line break), so the careful check
    still decides.
    """
    if not _plain(document):
        return False
    try:
        return bool(_fast_validator(schema_name).is_valid(document))
    except Exception:  # the careful check decides
        return False


def validate(document: Any, schema_name: str, *, file: str) -> None:
    """Validate ``document``; raise ConfigError naming the file, the place and the expectation.

    Every command validates the sources file and each mapping. A valid document is
    recognised by jsonschema-rs; only one it does not pass is checked again by the
    Python ``jsonschema`` (:mod:`discover.schema_messages`), whose verdict counts and
    whose errors are explained. So a search does not load that library (some 40 ms)
    nor walk every mapping through it (some 25 ms for an estate's nine documents).
    """
    if _passes(document, schema_name):
        return
    from discover.schema_messages import explain, schema_errors

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
