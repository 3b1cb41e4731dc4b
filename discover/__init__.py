"""discover: find a data subject's records across a provider's systems and export them.

The public surface is small: build a :class:`Request`, load a sources file, call
:func:`discover.engine.search`, write the case (:mod:`discover.case`), export a package
(:mod:`exporters`). Everything else is reachable through its module.

Importing this package loads only :mod:`discover.errors`; the identifiers, requests
and sources (and with them YAML, JSON Schema and the phone-number tables) load when
first named. ``discover --help`` imports this package and none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discover.errors import (
    CaseError,
    ConfigError,
    DiscoverError,
    ExportError,
    InputError,
    InvalidIdentifier,
    SourceError,
)
from discover.lazy_names import lazy_names

if TYPE_CHECKING:
    from discover.identifiers import Identifier, normalise
    from discover.request import Request, build_request, load_request
    from discover.sources import load_sources

__version__ = "0.1.0"


__all__ = [
    "CaseError",
    "ConfigError",
    "DiscoverError",
    "ExportError",
    "Identifier",
    "InputError",
    "InvalidIdentifier",
    "Request",
    "SourceError",
    "build_request",
    "load_request",
    "load_sources",
    "normalise",
]


__getattr__, __dir__ = lazy_names(
    globals(),
    {
        "discover.identifiers": ("Identifier", "normalise"),
        "discover.request": ("Request", "build_request", "load_request"),
        "discover.sources": ("load_sources",),
    },
)
