"""Connectors: one small module per kind of source.

Heavy drivers are imported lazily: a search that uses no directory never imports
ldap3. :func:`connector_class` maps a sources-file ``kind`` to its class.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.base import Connector

#: kind -> "module:Class"
KINDS: dict[str, str] = {
    "sql": "connectors.sql.connector:SqlConnector",
    "tabular": "connectors.tabular.connector:TabularConnector",
    "voip": "connectors.voip.connector:VoipConnector",
    "ldap": "connectors.directory.ldap:LdapConnector",
    "ldif": "connectors.directory.ldif:LdifConnector",
}


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


# The engine imports this package; importing discover only now (KINDS and
# connector_class exist) lets a program import a connector module first
# (``import connectors.directory.ldap``) without a circular-import error.
import discover  # noqa: E402, F401
