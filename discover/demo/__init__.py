"""The demo estate: invented people in SQLite databases and files, searchable offline."""

from discover.demo.estate import DemoLayout, build_estate

__all__ = ["DemoLayout", "build_estate"]
