"""Running a piece of a test as an unprivileged user, so that file modes apply.

root reads a chmod 000 directory anyway, so "unreadable" cannot be tested as root.
When the tests run as root, :func:`run_unprivileged` forks, drops the child to
``nobody`` (setgid, setgroups, setuid) and runs the function there; the child hands
its JSON result back through a pipe. Everything the function needs must be imported
before the fork: the child may not be able to read the interpreter's own files.
Not as root, the function just runs (the modes already apply).
"""

from __future__ import annotations

import json
import os
import pwd
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def shared_directory() -> Iterator[Path]:
    """A fresh directory the unprivileged user can enter (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="discover-unprivileged-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o700)
        for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        folder.rmdir()


def run_unprivileged(function: Callable[[], Any]) -> Any:
    """``function()``'s JSON-able result, computed as ``nobody`` when we are root."""
    if os.geteuid() != 0:
        return function()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no user 'nobody' to drop to")
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            payload = {"result": function()}
        except BaseException as exc:  # everything goes back to the parent
            payload = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(writer, "w", encoding="utf-8") as stream:
            json.dump(payload, stream)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, encoding="utf-8") as stream:
        text = stream.read()
    os.waitpid(child, 0)
    payload = json.loads(text)
    if "error" in payload:
        raise AssertionError(f"the unprivileged run failed: {payload['error']}")
    return payload["result"]
