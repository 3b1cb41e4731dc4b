"""Sampling a provisioning directory for discovery: vendor keys by format, secrets unread."""

from __future__ import annotations

from pathlib import Path

import pytest
from voip_helpers import FIXTURE_SECRETS, PROVISIONING

from connectors import load_mapping
from connectors.sampling import sampler
from discover.config import shipped_path
from discover.errors import SourceError
from discover.register import default_register
from discover.sources import SourceConfig


def _sample(directory: Path) -> list:
    model = load_mapping(shipped_path("voip", "provisioning.yaml"), default_register()).model
    source = SourceConfig("prov", "voip", Path("p.yaml"), {"directory": str(directory)})
    return sampler("voip")(source, model, 50)


def test_keys_by_format_with_account_numbers_as_a_template() -> None:
    places = {(p.location, p.field): p for p in _sample(PROVISIONING)}
    assert places, "the fixture directory holds handset files"
    mapped = [p for p in places.values() if p.mapped]
    assert any(p.declared == "extension" for p in mapped)
    assert any("{n}" in field for _, field in places)
    assert not any(field[-1:].isdigit() and "." in field for _, field in places if "{n}" in field)


def test_no_secret_value_is_sampled() -> None:
    for place in _sample(PROVISIONING):
        for value in place.values:
            assert not any(secret in value for secret in FIXTURE_SECRETS), place.field


def test_a_missing_directory_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        _sample(tmp_path / "absent")
    assert caught.value.source == "prov"
