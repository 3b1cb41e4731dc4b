"""Mappings: declarative descriptions of what a source holds.

A mapping is one YAML file per source (``version: 1``). It says where records live
(tables, directory bases, files), which fields hold which identifier types, which
register category each field belongs to, which fields are secrets or identify other
people, and how records relate. It never holds credentials: those come from the
sources file and the environment.

This module does what every kind shares — reading, schema validation, checking
category ids against the register — and hands the validated document to the
connector registry (:mod:`connectors.registry`, which sits above this module and
knows the kinds) for the kind's own schema and model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discover.config import read_document, shipped_path
from discover.errors import ConfigError
from discover.identifiers import WEAK_TYPES
from discover.register import Register

MAPPING_VERSION = 1
#: Where a field's data comes from (Article 29 WP, WP242 rev.01, 2.1): given by the
#: subject, observed from their use of a service, derived by the provider from other
#: data, or set by the provider's systems. Portability takes the first two only.
ORIGINS: tuple[str, ...] = ("provided", "observed", "derived", "system")
#: ``subject``: the subject's own credential (their line's SIP password, their SIM's
#: PUK, the codeword they set), offered on request after identity verification;
#: ``system``: a credential of the network (admin, provisioning, PPPoE passwords,
#: password hashes), never offered. ``secret: true`` is read as ``system``: a secret
#: nobody classified is treated as the one that is never handed out.
SECRET_KINDS: tuple[str, ...] = ("subject", "system")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What one mapped field holds and how discover must treat its values."""

    name: str
    category: str
    identifier: str | None = None
    secret: bool = False
    third_party: bool = False
    expand: bool = True
    recorded_at: bool = False
    label: dict[str, str] | None = None
    #: an organisation-level field (a general number): its values are the
    #: organisation's, never expanded and never what makes a record the subject's
    organisation: bool = False
    #: provided | observed | derived | system; None: the category's default
    origin: str | None = None
    #: subject | system for a secret field, else None
    secret_kind: str | None = None
    #: the field holds a file reference: the directory it is relative to (itself
    #: relative to the sources file; ``${VAR}`` and ``${VAR:-default}`` allowed)
    file_base: str | None = None
    #: the field names the client organisation the record is held for (a name, a
    #: customer number), looked up among the sources file's ``clients:``
    client: bool = False

    @property
    def expandable(self) -> bool:
        """Whether values of this field may be searched for in turn."""
        return (
            self.identifier is not None
            and self.expand
            and not self.secret
            and not self.third_party
            and not self.organisation
            and self.identifier not in WEAK_TYPES
        )

    @property
    def searchable(self) -> bool:
        """Whether the subject's identifiers are looked for in this field.

        Fields marked ``third_party`` are searched too: the subject may be the other
        party of someone's call or an entry in someone's phonebook. Such a field is
        redacted only when it does not hold the subject's own identifier.
        """
        return self.identifier is not None and not self.secret


def field_spec(
    name: str,
    raw: MappingABC[str, Any] | None,
    *,
    default_category: str,
    register: Register,
    file: str,
    where: str,
) -> FieldSpec:
    """Build a FieldSpec from its mapping entry, checking the category against the register."""
    raw = raw or {}
    category = raw.get("category", default_category)
    check_category(category, register, file=file, where=f"{where}.category")
    secret_kind = _secret_kind(raw.get("secret", False), file=file, where=f"{where}.secret")
    if raw.get("client") and secret_kind is not None:
        raise ConfigError(
            file, f"{where}.client", "a secret is never read: it cannot name a client"
        )
    origin = raw.get("origin")
    if origin is not None and origin not in ORIGINS:
        raise ConfigError(file, f"{where}.origin", f"expected one of {', '.join(ORIGINS)}")
    return FieldSpec(
        name=name,
        category=category,
        identifier=raw.get("identifier"),
        secret=secret_kind is not None,
        origin=origin,
        secret_kind=secret_kind,
        file_base=(raw.get("file") or {}).get("base"),
        third_party=bool(raw.get("third_party", False)),
        expand=bool(raw.get("expand", True)),
        recorded_at=bool(raw.get("recorded_at", False)),
        label=raw.get("label"),
        organisation=bool(raw.get("organisation", False)),
        client=bool(raw.get("client", False)),
    )


def _secret_kind(raw: Any, *, file: str, where: str) -> str | None:
    """``secret:`` as a kind: false/absent None, true the alias of ``system``."""
    if raw is False or raw is None:
        return None
    if raw is True:
        return "system"
    if raw in SECRET_KINDS:
        return str(raw)
    raise ConfigError(file, where, f"expected subject, system, true or false, got {raw!r}")


def resolve_file(base_dir: Path | None, base: str, reference: str | None) -> str | None:
    """``reference`` below ``base`` (relative to the sources file's directory, ``${VAR}``
    expanded): its absolute path when it is a regular file there, else None. A
    reference that climbs out of its base (``../``, a link) is never followed."""
    if not reference or base_dir is None:
        return None
    try:
        root = (Path(base_dir) / expand_path(base)).resolve()
        target = (root / reference).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return str(target)


def expand_path(text: str) -> str:
    """``${VAR}`` and ``${VAR:-default}`` from the environment (unset and no default: empty)."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}",
        lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""),
        text,
    )


def check_category(category: str, register: Register, *, file: str, where: str) -> None:
    """Raise ConfigError when ``category`` is not a register category id."""
    if category not in register:
        known = ", ".join(sorted(register.categories))
        raise ConfigError(file, where, f"{category!r} is not a register category (one of {known})")


@dataclass(frozen=True, slots=True)
class LoadedMapping:
    """A validated mapping: its file, kind and the kind-specific model."""

    path: Path
    kind: str
    document: dict[str, Any]
    model: Any = field(default=None)

    @property
    def file(self) -> str:
        return self.path.name


SHIPPED_PREFIX = "shipped:"
#: how deep ``extends`` may chain (a mapping extending one that extends another …)
MAX_EXTENDS = 5


def merge_documents(base: MappingABC[str, Any], override: MappingABC[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: mappings merge key by key, lists and values replace.

    Replacing lists keeps an override readable: ``files.include`` in the override is
    the whole list, not an addition to the base's.
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, MappingABC) and isinstance(merged.get(key), MappingABC):
            merged[key] = merge_documents(merged[key], value)
        else:
            merged[key] = value
    return merged


def _extended_path(raw: object, path: Path, file: str) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(file, "extends", "expected shipped:<path> or a path to a mapping file")
    if raw.startswith(SHIPPED_PREFIX):
        target = shipped_path(*raw[len(SHIPPED_PREFIX) :].split("/"))
    else:
        target = Path(raw).expanduser()
        target = target if target.is_absolute() else path.parent / target
    if not target.is_file():
        raise ConfigError(file, "extends", f"mapping file {target} not found")
    return target


def read_with_extends(path: Path, *, chain: tuple[Path, ...] = ()) -> Any:
    """A mapping document with its ``extends`` resolved: the base, overridden by this file.

    ``extends: shipped:voip/provisioning.yaml`` (or a path relative to this file) reuses
    a mapping and changes only what differs.
    """
    file = path.name
    document = read_document(path, label=file)
    if not isinstance(document, dict) or "extends" not in document:
        return document
    if path.resolve() in chain or len(chain) >= MAX_EXTENDS:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ConfigError(file, "extends", f"mappings extend each other in a circle ({names})")
    override = dict(document)
    target = _extended_path(override.pop("extends"), path, file)
    base = read_with_extends(target, chain=(*chain, path.resolve()))
    if not isinstance(base, dict):
        raise ConfigError(file, "extends", f"{target.name} is not a mapping")
    return merge_documents(base, override)


def read_mapping_document(
    path: Path,
    *,
    kinds: Collection[str],
    expected_kind: str | None = None,
    overrides: MappingABC[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """Read one mapping file and check what every kind shares: version and kind.

    ``extends`` is resolved and the sources file's ``overrides`` for this source laid
    over the result. ``kinds`` are the known kinds (the connector registry's, which
    sits above this loader and validates the rest). Errors name the file, the place
    inside it and what was expected.
    """
    file = path.name
    document = read_with_extends(path)
    if not isinstance(document, dict):
        raise ConfigError(file, "(top)", "expected a mapping with version, kind and its sections")
    if overrides:
        document = merge_documents(document, overrides)
    version = document.get("version")
    if version != MAPPING_VERSION:
        raise ConfigError(
            file, "version", f"expected {MAPPING_VERSION} (mapping format v1), got {version!r}"
        )
    kind = document.get("kind")
    if expected_kind is not None and kind != expected_kind:
        accepted = {expected_kind, *_kind_aliases(expected_kind)}
        if kind not in accepted:
            raise ConfigError(
                file, "kind", f"this source is of kind {expected_kind!r}, the mapping is {kind!r}"
            )
    if kind is None:
        raise ConfigError(
            file, "kind", f"required key 'kind' is missing (one of {', '.join(sorted(kinds))})"
        )
    if kind not in kinds:
        raise ConfigError(
            file, "kind", f"{kind!r} is not a connector kind (one of {', '.join(sorted(kinds))})"
        )
    return document, str(kind)


def _kind_aliases(kind: str) -> tuple[str, ...]:
    # An LDIF export is scanned with the directory's mapping.
    return {"ldif": ("ldap",)}.get(kind, ())
