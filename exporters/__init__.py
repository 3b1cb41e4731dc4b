"""Exporters: turn a reviewed case into an access or portability package.

:func:`export_case` is the one entry point; each format lives in its own module and
renders the same content (``exporters.content``).
"""

from exporters.export import FORMATS, export_case

__all__ = ["FORMATS", "export_case"]
