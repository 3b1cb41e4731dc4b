"""discover: find a data subject's records across a provider's systems and export them.

The public surface is small: build a :class:`Request`, load a sources file, call
:func:`discover.engine.search`, write the case (:mod:`discover.case`), export a package
(:mod:`exporters`). Everything else is reachable through its module. This package
imports only the light core, so that importing it (and starting the command line) loads
no connector, engine or exporter.
"""

from discover.errors import (
    CaseError,
    ConfigError,
    DiscoverError,
    ExportError,
    InputError,
    InvalidIdentifier,
    SourceError,
)
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
