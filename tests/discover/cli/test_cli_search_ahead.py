"""``discover search`` on a terminal lists a provisioning directory ahead too.

The status line on the terminal is drawn by a thread, and a search forks its listing
child only while the process runs no other thread; the status line starts with the
first scan. Run in a fresh interpreter: the test runner holds threads of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
PROVISIONING = ROOT / "tests" / "connectors" / "fixtures" / "voip" / "provisioning"

_SEARCH = """
import json, sys
import connectors.voip.connector as voip_connector
listed = []
real = voip_connector.scan_directory
voip_connector.scan_directory = lambda root, *a: listed.append(str(root)) or real(root, *a)
import atexit
atexit.register(lambda: print(json.dumps(listed), file=sys.__stderr__))
sys.argv = ["discover", *sys.argv[1:]]
from discover.cli import main
main()
"""


def test_a_search_with_a_status_line_lists_the_directory_ahead(tmp_path: Path) -> None:
    shutil.copytree(PROVISIONING, tmp_path / "provisioning")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sources": [
                    {
                        "name": "provisioning",
                        "kind": "voip",
                        "mapping": "shipped:voip/provisioning.yaml",
                        "connection": {"directory": "provisioning"},
                    }
                ],
            }
        )
    )
    subject = ["--extension", "acme/201", "--case", str(tmp_path / "case")]
    done = subprocess.run(
        [sys.executable, "-c", _SEARCH, "search", "--sources", str(sources), *subject],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DISCOVER_CACHE_DIR": str(tmp_path / "cache"),
            "COLUMNS": "200",
        },
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "records" in done.stdout  # the summary on the terminal, not JSON
    listed = json.loads(done.stderr.strip().splitlines()[-1])
    assert listed == []  # the first round took the child's listing; no round listed again
