"""The estates the connector contract runs against: the demo estate, real servers.

The demo estate (``discover demo``'s) holds every kind of source with the same
people; a kind's contract test names one of its sources, a subject it holds, and a
variant of the source that cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connectors.testing import Reachable
from discover.demo.estate import build_estate


def demo_estate(root: Path) -> Path:
    """Build the demo estate under ``root``; its sources file."""
    return build_estate(root).sources


def variant(sources: Path, name: str, new_name: str, **connection: Any) -> Reachable:
    """A copy of one source of ``sources`` under ``new_name`` with connection changes.

    Written next to the original so that relative paths and mappings still resolve.
    """
    document = yaml.safe_load(sources.read_text("utf-8"))
    (entry,) = [dict(s) for s in document["sources"] if s["name"] == name]
    entry["name"] = new_name
    entry["connection"] = {**entry["connection"], **connection}
    document["sources"] = [entry]
    target = sources.with_name(f"{new_name}.sources.yaml")
    target.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")
    return Reachable(target, new_name)


def write_sources(folder: Path, entry: dict[str, Any]) -> Reachable:
    """A sources file with one source."""
    target = folder / f"{entry['name']}.sources.yaml"
    document = {"version": 1, "sources": [entry]}
    target.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")
    return Reachable(target, entry["name"])
