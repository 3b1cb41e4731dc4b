"""Exporters: turn a reviewed case into an access or portability package.

:func:`export_package` is the one entry point; each format lives in its own module
and renders the same content (``exporters.content``); ``exporters.package`` stages,
checksums and renames.

Only :data:`FORMATS` is defined on import; the rest loads on first use, so that a
command that only names the formats (its help, a bad ``--format``) loads no data
library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exporters.formats import FORMATS

if TYPE_CHECKING:
    from exporters.export import ExportResult, export_package
    from exporters.package import verify_package

__all__ = ["FORMATS", "ExportResult", "export_package", "verify_package"]


def __getattr__(name: str) -> Any:
    """The exporters' entry points, imported when first named."""
    if name in ("ExportResult", "export_package"):
        from exporters import export

        value = getattr(export, name)
    elif name == "verify_package":
        from exporters.package import verify_package as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), "ExportResult", "export_package", "verify_package"})
