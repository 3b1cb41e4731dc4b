"""``discover demo``: a small but realistic estate, a search and a package, no server.

The estate is written under the output directory with a sources file that points at
it, so that privacy staff and engineers can rerun the search, change a mapping or
add a source and see the effect. Each kind of source adds its part through a
builder function in :data:`BUILDERS`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from discover.demo.alarm import build_alarm
from discover.demo.databases import build_crm, build_telephony
from discover.demo.devices import build_devices
from discover.demo.directory import build_directory
from discover.demo.mobile import build_mobile
from discover.demo.people import ORGANISATIONS, SUBJECT
from discover.demo.voip import build_provisioning
from discover.errors import InputError
from discover.files import private_dir, write_bytes

MARKER = ".discover-demo"


def _sqlite(path: Path, build: Callable[[sa.Engine], None]) -> None:
    if path.exists():
        path.unlink()
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        build(engine)
    finally:
        engine.dispose()
    path.chmod(0o600)


def _recording(path: Path) -> None:
    """A one-second silent WAV: the demo subject's own call recording."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * 8000)
    private_dir(path.parent)
    write_bytes(path, buffer.getvalue())


def build_databases(estate: Path) -> list[dict[str, Any]]:
    """The CRM and telephony databases (SQLite) and their sources entries."""
    _sqlite(estate / "crm.sqlite", build_crm)
    _sqlite(estate / "telephony.sqlite", build_telephony)
    _recording(estate / "recordings" / "userrec" / "acme" / "201" / "0001.wav")
    return [
        {
            "name": "crm",
            "kind": "sql",
            "description": "Customer database: organisations, contacts, tickets, lines",
            "mapping": "shipped:demo/crm.yaml",
            "connection": {"url": "sqlite:///estate/crm.sqlite"},
        },
        {
            "name": "telephony",
            "kind": "sql",
            "description": "Telephony platform: call-detail records, retained traffic",
            "mapping": "shipped:demo/telephony.yaml",
            "connection": {"url": "sqlite:///estate/telephony.sqlite"},
        },
    ]


#: Each builder writes its part of the estate and returns its sources entries.
BUILDERS: list[Callable[[Path], list[dict[str, Any]]]] = [
    build_databases,
    build_provisioning,
    build_mobile,
    build_alarm,
    build_devices,
    build_directory,
]


def demo_clients() -> dict[str, dict[str, Any]]:
    """The client organisations' contact details: packages tell the subject whom to
    address for the data the provider processes on each client's behalf.

    Their identifiers let the sources of several clients name each record's client:
    the provisioning folder and PBX name (``acme``), and the CRM's organisation number.
    """
    return {
        org.name: {
            "address": f"{org.street}, {org.postcode[:4]} {org.postcode[4:]} {org.city}",
            "privacy_contact": f"privacy@{org.domain}",
            "phone": org.switchboard,
            "identifiers": [org.key, {"source": "crm", "value": str(number)}],
        }
        for number, org in enumerate(ORGANISATIONS, start=1)
    }


def demo_request() -> dict[str, Any]:
    """The demo subject's request: identifiers in other spellings than the sources use."""
    return {
        "version": 1,
        "request_id": "REQ-DEMO-0001",
        "kind": "access",
        "received": datetime.now(UTC).date().isoformat(),
        "language": "nl",
        "controller": "all",
        "client": "Acme Logistiek B.V.",
        "subject_name": SUBJECT.name,
        "identifiers": [
            {"type": "email", "value": SUBJECT.email.upper()},
            {"type": "name", "value": SUBJECT.name},
        ],
    }


@dataclass(frozen=True, slots=True)
class DemoLayout:
    root: Path

    @property
    def estate(self) -> Path:
        return self.root / "estate"

    @property
    def sources(self) -> Path:
        return self.root / "sources.yaml"

    @property
    def request(self) -> Path:
        return self.root / "request.json"

    @property
    def case(self) -> Path:
        return self.root / "case"

    @property
    def packages(self) -> Path:
        return self.root / "packages"


def build_estate(root: Path) -> DemoLayout:
    """Write the demo estate, sources file and request under ``root``."""
    layout = DemoLayout(root)
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise InputError(f"{root} exists and is not a demo directory; choose an empty --out")
    private_dir(root)
    (root / MARKER).write_text("discover demo\n", encoding="utf-8")
    for stale in (layout.case, layout.packages):
        if stale.exists():
            shutil.rmtree(stale)
    private_dir(layout.estate)
    entries: list[dict[str, Any]] = []
    for builder in BUILDERS:
        entries.extend(builder(layout.estate))
    sources = {
        "version": 1,
        "settings": {"max_depth": 3, "max_holders": 3},
        "clients": demo_clients(),
        "sources": entries,
    }
    header = "# discover demo: sources of the demo estate (paths relative to this file)\n"
    write_bytes(
        layout.sources,
        (header + yaml.safe_dump(sources, sort_keys=False, allow_unicode=True)).encode(),
    )
    write_bytes(layout.request, (json.dumps(demo_request(), indent=2) + "\n").encode())
    return layout
