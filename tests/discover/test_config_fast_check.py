"""The fast schema check (jsonschema-rs) never passes what jsonschema refuses.

A valid document is recognised by jsonschema-rs and the Python ``jsonschema`` is not
loaded; every other document is checked by ``jsonschema``, whose verdict counts. The
documents below are those where the two libraries could read a schema differently.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from discover.config import _passes, load_schema, read_document, shipped_path, validate
from discover.errors import ConfigError
from discover.schema_messages import schema_errors

ROOT = Path(__file__).resolve().parents[2]


def _sources(**settings: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "settings": settings,
        "sources": [
            {
                "name": "crm",
                "kind": "sql",
                "mapping": "crm.yaml",
                "connection": {"url": "sqlite:///crm.sqlite"},
            }
        ],
    }


def _voip(field: str) -> dict[str, Any]:
    document = read_document(shipped_path("voip", "provisioning.yaml"))
    assert isinstance(document, dict)
    fields = document["handsets"]["fields"]
    document["handsets"]["fields"] = {field: fields["mac"]}
    return document


CASES = [
    ("plain", "sources.schema.json", _sources(role_mailboxes=["info", "sales"])),
    ("separator in a \\s pattern", "sources.schema.json", _sources(role_mailboxes=["in\x1cfo"])),
    ("line break before $", "sources.schema.json", _sources(role_mailboxes=["info\n"])),
    ("unicode digits", "sources.schema.json", _sources(role_mailboxes=["٤٥"])),
    ("bool for an integer", "sources.schema.json", _sources(chunk_size=True)),
    ("float for an integer", "sources.schema.json", _sources(chunk_size=5.0)),
    ("a YAML date", "sources.schema.json", _sources(time_limit=datetime.date(2026, 1, 1))),
    ("not a number", "sources.schema.json", _sources(time_limit=float("nan"))),
    ("a key that is not text", "sources.schema.json", {**_sources(), 7: "seven"}),
    ("a lone surrogate", "sources.schema.json", _sources(role_mailboxes=["in\udcfffo"])),
    ("field name: line break", "mapping-voip.schema.json", _voip("user_name\n")),
    ("field name: separator", "mapping-voip.schema.json", _voip("user\x1fname")),
    ("field name: plain", "mapping-voip.schema.json", _voip("user_name")),
]


@pytest.mark.parametrize(("label", "schema", "document"), CASES, ids=[c[0] for c in CASES])
def test_the_fast_check_agrees_with_jsonschema(label: str, schema: str, document: Any) -> None:
    careful = not schema_errors(document, load_schema(schema))
    if _passes(document, schema):
        assert careful, f"{label}: passed fast, refused by jsonschema"
    try:
        validate(document, schema, file="f.yaml")
        accepted = True
    except ConfigError:
        accepted = False
    assert accepted == careful, label


def test_the_separator_case_is_one_the_libraries_read_differently() -> None:
    """Without the guard the fast check would pass it: Rust's ``\\s`` does not take the
    ASCII separators for white space."""
    import jsonschema_rs

    pattern = load_schema("sources.schema.json")["properties"]["settings"]["properties"]
    validator = jsonschema_rs.validator_for(pattern["role_mailboxes"])
    assert validator.is_valid(["in\x1cfo"])
    assert schema_errors(["in\x1cfo"], pattern["role_mailboxes"])


_LOAD_THE_DEMO = """
import json, sys
from discover.demo import build_estate
from discover.sources import load_sources
from connectors import load_mappings
layout = build_estate(__import__("pathlib").Path(sys.argv[1]))
sources = load_sources(layout.sources)
load_mappings(sources)
loaded = "jsonschema" in sys.modules
try:
    from discover.config import validate
    validate({"version": "one"}, "sources.schema.json", file="bad.yaml")
except Exception as exc:
    message = str(exc)
print(json.dumps({"loaded": loaded, "after": "jsonschema" in sys.modules, "message": message}))
"""


def test_valid_files_do_not_load_jsonschema(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_THE_DEMO, str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    outcome = json.loads(done.stdout)
    assert outcome["loaded"] is False
    assert outcome["after"] is True  # an invalid file is explained by jsonschema
    assert outcome["message"].startswith("bad.yaml: (top): required key 'sources' is missing")
