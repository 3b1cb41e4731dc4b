"""The kinds of source, where their connectors live, and loading a mapping of a kind.

The registry sits above the mapping loader: :mod:`discover.mapping` reads and checks
what every mapping shares (version, kind, ``extends``) and knows no connector; here the
kind's own class validates the document against its schema and parses its model. The
engine and the commands reach a kind through this module, so the core never imports a
connector and no import circle exists (``lint-imports`` keeps it so).

Connector modules are imported on first use: a search that uses no directory never
imports ldap3.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import searchable_types
from discover.config import validate
from discover.errors import ConfigError
from discover.mapping import LoadedMapping, read_mapping_document
from discover.register import Register, default_register

if TYPE_CHECKING:
    from connectors.base import Connector
    from discover.sources import SourcesConfig

#: kind -> "module:Class"; the same kinds as the sources schema's ``kind`` enum
KINDS: dict[str, str] = {
    "sql": "connectors.sql.connector:SqlConnector",
    "tabular": "connectors.tabular.connector:TabularConnector",
    "voip": "connectors.voip.connector:VoipConnector",
    "ldap": "connectors.directory.ldap:LdapConnector",
    "ldif": "connectors.directory.ldif:LdifConnector",
}

#: kinds whose connectors start part of a search ahead (:meth:`Connector.start_ahead`);
#: their modules are light (no SQLAlchemy, no polars), so they open before the others
AHEAD_KINDS: frozenset[str] = frozenset({"voip"})


def connector_class(kind: str) -> type[Connector]:
    """The connector class for a kind; KeyError with the known kinds otherwise."""
    try:
        target = KINDS[kind]
    except KeyError:
        raise KeyError(
            f"{kind!r} is not a connector kind (one of {', '.join(sorted(KINDS))})"
        ) from None
    module_name, _, class_name = target.partition(":")
    return getattr(import_module(module_name), class_name)


def load_mapping(
    path: Path,
    register: Register,
    *,
    expected_kind: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedMapping:
    """Read, validate and parse one mapping file (``overrides``: a source's, laid over it).

    Errors name the file, the place inside it and what was expected.
    """
    file = path.name
    document, kind = read_mapping_document(
        path, kinds=KINDS, expected_kind=expected_kind, overrides=overrides
    )
    try:
        # the source's own kind reads the mapping (an ldif source reads a kind: ldap
        # mapping with the LDIF connector, without loading the LDAP client)
        cls = connector_class(expected_kind or kind)
    except KeyError as exc:  # read_mapping_document checked the kind: defensive only
        raise ConfigError(file, "kind", str(exc.args[0])) from None
    validate(document, cls.mapping_schema, file=file)
    model = cls.parse_mapping(document, register=register, file=file)
    if not searchable_types(model):
        raise ConfigError(
            file,
            "(top)",
            "no field has an 'identifier' (that is not a secret): a source with this mapping "
            "would never be searched; give the fields that hold e-mail addresses, phone "
            "numbers … their identifier type",
        )
    return LoadedMapping(path=path, kind=kind, document=document, model=model)


def load_mappings(
    sources: SourcesConfig, register: Register | None = None
) -> dict[str, LoadedMapping]:
    """Every source's mapping, validated; the first malformed one raises ConfigError."""
    register = register or default_register()
    return {
        source.name: load_mapping(
            source.mapping_path, register, expected_kind=source.kind, overrides=source.overrides
        )
        for source in sources.sources
    }
