"""Connectors: one subpackage per kind of source, behind one registry.

``sql/`` (SQLAlchemy), ``directory/`` (a live LDAP server and LDIF exports),
``tabular/`` (CSV, XLSX, Parquet) and ``voip/`` (provisioning directories). Each kind
subclasses :class:`connectors.base.Connector`; :mod:`connectors.registry` maps a
sources-file ``kind`` to its class and loads mappings of that kind;
:mod:`connectors.testing` is the contract every kind's tests subclass.
"""

from connectors.registry import (
    AHEAD_KINDS,
    KINDS,
    connector_class,
    load_mapping,
    load_mappings,
)

__all__ = ["AHEAD_KINDS", "KINDS", "connector_class", "load_mapping", "load_mappings"]
