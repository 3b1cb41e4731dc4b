"""discover: find a data subject's records across a provider's systems and export them.

The public surface is small: build a :class:`Request`, load a sources file, call
:func:`search`, write the case, export a package. Everything else is reachable
through its module.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from discover.engine import SearchResult, search, search_many

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The engine imports the connectors, which import discover's modules: importing
    # it lazily lets ``import connectors.sql.connector`` work before ``import discover``.
    if name in ("SearchResult", "search", "search_many"):
        from discover import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'discover' has no attribute {name!r}")


__all__ = [
    "CaseError",
    "ConfigError",
    "DiscoverError",
    "ExportError",
    "Identifier",
    "InputError",
    "InvalidIdentifier",
    "Request",
    "SearchResult",
    "SourceError",
    "build_request",
    "load_request",
    "load_sources",
    "normalise",
    "search",
    "search_many",
]
