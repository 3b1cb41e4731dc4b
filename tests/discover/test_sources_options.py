"""The sources file's per-source options for hostile inputs: allow_file_urls, time_limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from discover.errors import ConfigError
from discover.sources import load_sources


def _write(folder: Path, source: dict[str, Any]) -> Path:
    path = folder / "sources.yaml"
    document = {"version": 1, "sources": [source]}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _ldif(**extra: Any) -> dict[str, Any]:
    return {
        "name": "export",
        "kind": "ldif",
        "mapping": "shipped:directory/inetorgperson.yaml",
        "connection": {"path": "export.ldif"},
        **extra,
    }


def test_file_urls_are_off_unless_allowed(tmp_path: Path) -> None:
    (default,) = load_sources(_write(tmp_path, _ldif())).sources
    assert default.allow_file_urls is False and default.time_limit is None
    (allowed,) = load_sources(_write(tmp_path, _ldif(allow_file_urls=True, time_limit=5))).sources
    assert allowed.allow_file_urls is True and allowed.time_limit == 5


def test_allow_file_urls_on_another_kind_is_refused_with_its_place(tmp_path: Path) -> None:
    source = {
        "name": "inventory",
        "kind": "tabular",
        "mapping": "shipped:mobile/sim-inventory.yaml",
        "connection": {"path": "sims.xlsx"},
        "allow_file_urls": True,
    }
    with pytest.raises(ConfigError) as caught:
        load_sources(_write(tmp_path, source))
    text = str(caught.value)
    assert "sources.yaml" in text and "sources[0].allow_file_urls" in text
    assert "applies to kind ldif only" in text


@pytest.mark.parametrize("value", [0, -3, "soon"])
def test_a_source_time_limit_must_be_positive(tmp_path: Path, value: Any) -> None:
    with pytest.raises(ConfigError, match="time_limit"):
        load_sources(_write(tmp_path, _ldif(time_limit=value)))
