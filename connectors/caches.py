"""Where connectors keep what they learnt about a source between searches.

One convention for every cache: the source's own setting (a path, relative to the
sources file), else ``$DISCOVER_CACHE_DIR/<name>``, else the user's cache directory
(``$XDG_CACHE_HOME`` or ``~/.cache``) under ``discover/<name>``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(configured: object, base_dir: Path, name: str) -> Path:
    """The directory of the cache ``name`` (``sql-profiles``, ``file-index``)."""
    if configured:
        path = Path(str(configured)).expanduser()
        return path if path.is_absolute() else base_dir / path
    root = os.environ.get("DISCOVER_CACHE_DIR")
    if root:
        return Path(root).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "discover" / name
