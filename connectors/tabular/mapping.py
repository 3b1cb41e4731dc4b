"""The model of a tabular mapping (kind: tabular): one layout of CSV, XLSX or Parquet files.

A tabular source is a set of files that share one layout (an inventory exported every
month, one keyholder list per client). The sources file says where the files are
(``connection.path``: a path or glob, or a list of them); the mapping says how to read
them (format, sheets, header row), which field each column holds and how rows relate.

Fields are the common field specs of every mapping kind; ``headers`` says under which
header text a field's column is found when it is not the field's own name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from discover.errors import ConfigError
from discover.mapping import FieldSpec, check_category, field_spec
from discover.register import Register

FileFormat = Literal["auto", "csv", "excel", "parquet"]
ScopeFrom = Literal["column", "source", "none"]

#: identifier types whose stored values hold digits a spreadsheet can damage
DIGIT_TYPES = frozenset({"phone", "iccid", "imei", "imsi", "extension"})


def header_text(text: object) -> str:
    """How header cells (and status values) are compared: case-folded, letters and
    digits only, so that "E-mail", "e_mail" and " E-mail " are one header."""
    value = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(character for character in value if character.isalnum())


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How the files are read."""

    format: FileFormat = "auto"
    sheets: tuple[str | int, ...] | Literal["*"] = (0,)
    header_row: int = 1
    header_rows: int = 1
    delimiter: str = "auto"
    encoding: str = "utf-8"
    quote: str = '"'


@dataclass(frozen=True, slots=True)
class Header:
    """Where a field's column is: any of these header texts (compared by header_text)."""

    names: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Scope:
    """Where the scope of extensions comes from (a PBX or client: ``acme/201``)."""

    source: ScopeFrom = "none"
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Which rows are retired, and which identifier types are re-issued after retirement."""

    field: str
    retired: frozenset[str]
    recycled: frozenset[str]


@dataclass(frozen=True, slots=True)
class Relation:
    """Rows with equal values in ``same`` are related (the keyholders of one object)."""

    same: tuple[str, ...]
    third_party: bool
    label: str


@dataclass(frozen=True, slots=True)
class TabularMapping:
    """A whole tabular mapping."""

    read: ReadOptions
    category: str
    entity: str
    columns: dict[str, FieldSpec]
    headers: dict[str, Header]
    key: str | None = None
    scope: Scope = field(default_factory=Scope)
    lifecycle: Lifecycle | None = None
    relations: tuple[Relation, ...] = ()
    description: str = ""

    @property
    def searchable(self) -> list[FieldSpec]:
        return [spec for spec in self.columns.values() if spec.searchable]


def _header(name: str, raw: Any) -> Header:
    if raw is None:
        return Header(names=(name, name.replace("_", " ")))
    if isinstance(raw, str):
        return Header(names=_with_own_name((raw,), name))
    if isinstance(raw, list):
        return Header(names=_with_own_name(tuple(raw), name))
    names = _with_own_name(tuple(raw.get("names") or ()), name)
    return Header(names=names, optional=bool(raw.get("optional")))


def _with_own_name(names: tuple[str, ...], name: str) -> tuple[str, ...]:
    """The listed header texts, then the field's own name: it is always accepted too."""
    if any(header_text(text) == header_text(name) for text in names):
        return names
    return (*names, name)


def _read_options(raw: dict[str, Any]) -> ReadOptions:
    sheets = raw.get("sheets", 0)
    if sheets != "*":
        sheets = tuple(sheets) if isinstance(sheets, list) else (sheets,)
    return ReadOptions(
        format=raw.get("format", "auto"),
        sheets=sheets,
        header_row=int(raw.get("header_row", 1)),
        header_rows=int(raw.get("header_rows", 1)),
        delimiter=raw.get("delimiter", "auto"),
        encoding=raw.get("encoding", "utf-8"),
        quote=raw.get("quote", '"'),
    )


def _known(name: str, columns: dict[str, FieldSpec], *, file: str, where: str) -> None:
    if name not in columns:
        raise ConfigError(file, where, f"field {name!r} is not among the mapped columns")


def parse_tabular_mapping(
    document: dict[str, Any], *, register: Register, file: str
) -> TabularMapping:
    """Build the TabularMapping from a schema-valid document, checking cross-references."""
    category = document["category"]
    check_category(category, register, file=file, where="category")
    columns = {
        name: field_spec(
            name,
            spec,
            default_category=category,
            register=register,
            file=file,
            where=f"columns.{name}",
        )
        for name, spec in document["columns"].items()
    }
    for name, spec in columns.items():
        if spec.secret and spec.identifier:
            raise ConfigError(
                file, f"columns.{name}", "a secret column cannot also be searched as an identifier"
            )
    raw_headers = document.get("headers", {})
    for name in raw_headers:
        _known(name, columns, file=file, where=f"headers.{name}")
    headers = {name: _header(name, raw_headers.get(name)) for name in columns}

    key = document.get("key")
    if key is not None:
        _known(key, columns, file=file, where="key")
        if columns[key].secret:
            raise ConfigError(file, "key", "a secret column cannot be the row key")

    scope = Scope()
    if "scope" in document:
        raw = document["scope"]
        scope = Scope(source=raw["from"], field=raw.get("field"))
        if scope.source == "column":
            if not scope.field:
                raise ConfigError(file, "scope.field", "scope from: column needs a field")
            _known(scope.field, columns, file=file, where="scope.field")
    elif any(spec.identifier == "extension" for spec in columns.values()):
        scope = Scope(source="none")

    lifecycle = None
    if "lifecycle" in document:
        raw = document["lifecycle"]
        _known(raw["field"], columns, file=file, where="lifecycle.field")
        lifecycle = Lifecycle(
            field=raw["field"],
            retired=frozenset(header_text(value) for value in raw["retired"]),
            recycled=frozenset(raw.get("recycled", [])),
        )

    relations = []
    for index, raw in enumerate(document.get("relations", [])):
        same = (raw["same"],) if isinstance(raw["same"], str) else tuple(raw["same"])
        for name in same:
            _known(name, columns, file=file, where=f"relations[{index}].same")
            if columns[name].secret:
                raise ConfigError(
                    file, f"relations[{index}].same", "rows cannot be related by a secret"
                )
        label = raw.get("label") or f"same {', '.join(same)}"
        relations.append(Relation(same=same, third_party=bool(raw["third_party"]), label=label))

    return TabularMapping(
        read=_read_options(document.get("read", {})),
        category=category,
        entity=document.get("entity", "person"),
        columns=columns,
        headers=headers,
        key=key,
        scope=scope,
        lifecycle=lifecycle,
        relations=tuple(relations),
        description=document.get("description", ""),
    )
