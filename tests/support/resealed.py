"""Tests that edit a case's files on purpose re-seal it: the case checks its own checksums."""

from __future__ import annotations

import json
from pathlib import Path

from discover.case import CHECKSUMMED, SUMMARY_FILE
from discover.files import sha256_file, write_json


def reseal(case_dir: Path) -> None:
    """Record the current checksums of an edited case, as a search would have."""
    summary = json.loads((case_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    summary["checksums"] = {name: sha256_file(case_dir / name) for name in CHECKSUMMED}
    write_json(case_dir / SUMMARY_FILE, summary)
