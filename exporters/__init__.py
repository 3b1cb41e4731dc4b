"""Exporters: turn a reviewed case into an access or portability package.

:func:`export_package` is the one entry point; each format lives in its own module
and renders the same content (``exporters.content``); ``exporters.package`` stages,
checksums and renames.
"""

from exporters.export import FORMATS, ExportResult, export_package
from exporters.package import verify_package

__all__ = ["FORMATS", "ExportResult", "export_package", "verify_package"]
