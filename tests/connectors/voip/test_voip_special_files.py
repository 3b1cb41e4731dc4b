"""Special and broken entries of a provisioning directory: each named, none silent.

A FIFO, a socket, a dangling link, a link loop, a link out of the directory, a link to
a directory, a file name that is not valid UTF-8, a sub-directory that cannot be
listed: each is a warning naming it, the result is incomplete, and the good files
next to them are still found. An external DTD is never fetched: a warning, and the
file is read without it.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from support.unprivileged import run_unprivileged, shared_directory
from voip_helpers import PROVISIONING, by_record, run, sources_file

from connectors.voip.files import scan_directory

INCLUDE = ("**/*.cfg", "**/*.xml")
GOOD = ("acme/001565abcd01.cfg", "account 1")


def _estate(tmp_path: Path) -> Path:
    directory = tmp_path / "provisioning"
    shutil.copytree(PROVISIONING, directory)
    return directory


def _warnings(result) -> dict[str, str]:
    return {w.split(": ", 1)[0]: w for w in result.sources[0].warnings if ": not read: " in w}


def test_a_fifo_is_named_and_never_opened(tmp_path: Path) -> None:
    """A FIFO named like a handset file used to block the search forever on open()."""
    directory = _estate(tmp_path)
    os.mkfifo(directory / "acme" / "001565abcd77.cfg")
    result = run(sources_file(tmp_path, directory), ("extension", "acme/201"))
    warnings = _warnings(result)
    assert "a FIFO (named pipe), not a regular file" in warnings["acme/001565abcd77.cfg"]
    assert result.sources[0].status == "ok"
    assert result.complete is False
    assert GOOD in by_record(result.hits)


def test_a_socket_is_named(tmp_path: Path) -> None:
    directory = _estate(tmp_path)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(directory / "acme" / "control.cfg"))
        listing = scan_directory(directory, INCLUDE, ())
    finally:
        server.close()
    reasons = {problem.relpath: problem.reason for problem in listing.skipped}
    assert reasons == {"acme/control.cfg": "a socket, not a regular file"}


def test_a_name_that_is_not_utf8_is_one_files_warning(tmp_path: Path) -> None:
    """It used to fail the whole source with a UnicodeEncodeError traceback."""
    directory = _estate(tmp_path)
    shutil.copy(
        directory / "acme" / "pieter-directory.xml",
        os.fsencode(directory / "acme") + b"/bad\xffname-phonebook.xml",
    )
    result = run(sources_file(tmp_path, directory), ("extension", "acme/201"))
    warnings = _warnings(result)
    assert "file name is not valid UTF-8" in warnings["acme/bad\\xffname-phonebook.xml"]
    assert result.sources[0].status == "ok"
    assert result.complete is False
    assert GOOD in by_record(result.hits)


def test_links_that_cannot_be_followed_are_each_named(tmp_path: Path) -> None:
    directory = _estate(tmp_path)
    acme = directory / "acme"
    (acme / "dangling.cfg").symlink_to(acme / "gone.cfg")
    (acme / "loop-a.cfg").symlink_to(acme / "loop-b.cfg")
    (acme / "loop-b.cfg").symlink_to(acme / "loop-a.cfg")
    outside = tmp_path / "passwd.cfg"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (acme / "escape.cfg").symlink_to(outside)
    (acme / "inside.cfg").symlink_to(acme / "001565abcd01.cfg")
    (directory / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    result = run(sources_file(tmp_path, directory), ("extension", "acme/201"))
    warnings = {w.split(": ", 1)[0]: w for w in result.sources[0].warnings}
    assert "a symbolic link to a missing file" in warnings["acme/dangling.cfg"]
    assert "a symbolic link loop" in warnings["acme/loop-a.cfg"]
    assert "a symbolic link loop" in warnings["acme/loop-b.cfg"]
    assert "outside the provisioning directory" in warnings["acme/escape.cfg"]
    assert "a symbolic link to a directory; not followed" in warnings["linked-dir/"]
    assert "acme/inside.cfg" not in warnings  # a link inside the directory is read
    assert result.sources[0].status == "ok"
    assert result.complete is False
    values = " ".join(str(row["value"]) for row in result.hits.to_pylist())
    assert "root:x" not in values
    assert GOOD in by_record(result.hits)


def test_an_unreadable_sub_directory_is_named() -> None:
    """Listed as an unprivileged user: chmod 000 does not stop root."""
    with shared_directory() as folder:
        directory = folder / "provisioning"
        shutil.copytree(PROVISIONING, directory)
        for path in [directory, *directory.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        locked = directory / "locked"
        locked.mkdir()
        shutil.copy(directory / "acme" / "001565abcd01.cfg", locked / "001565abcd99.cfg")
        os.chmod(locked, 0)

        def listing() -> dict[str, object]:
            found = scan_directory(directory, INCLUDE, ())
            return {
                "files": found.files,
                "skipped": {p.relpath: p.reason for p in found.skipped},
            }

        seen = run_unprivileged(listing)
    assert "directory cannot be listed (Permission denied)" in seen["skipped"]["locked/"]
    assert "acme/001565abcd01.cfg" in seen["files"]


def test_an_external_dtd_is_named_and_not_fetched(tmp_path: Path) -> None:
    directory = _estate(tmp_path)
    config = directory / "acme" / "spa001565abcd03.xml"
    text = config.read_text(encoding="utf-8")
    declaration = '<!DOCTYPE flat-profile SYSTEM "http://203.0.113.66/spa.dtd">\n'
    head, _, rest = text.partition("<flat-profile")
    config.write_text(head + declaration + "<flat-profile" + rest, encoding="utf-8")
    result = run(sources_file(tmp_path, directory), ("extension", "acme/203"))
    warnings = result.sources[0].warnings
    assert any(
        w.startswith("acme/spa001565abcd03.xml: declares an external DTD")
        and "http://203.0.113.66/spa.dtd" in w
        for w in warnings
    ), warnings
    # read without it: Pieter's handset is still found, and nothing else is missing
    assert ("acme/spa001565abcd03.xml", "account 1") in by_record(result.hits)
    assert result.complete is True


def test_a_provisioning_directory_that_is_a_fifo_is_named_by_kind(tmp_path: Path) -> None:
    directory = tmp_path / "provisioning"
    os.mkfifo(directory)
    result = run(sources_file(tmp_path, directory), ("extension", "acme/201"))
    status = result.sources[0]
    assert status.status == "failed"
    assert status.error == f"provisioning directory {directory} is not a directory"


def test_a_directory_replaced_by_a_link_while_listed_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed as a directory, a link when its turn comes: named, its target not read."""
    directory = _estate(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "001565abcd66.cfg").write_text("not in the provisioning directory")
    acme = directory / "acme"
    real_open = os.open
    swapped: list[bool] = []

    def swapping(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path) == str(acme) and not swapped:
            swapped.append(True)
            monkeypatch.setattr(os, "open", real_open)
            shutil.rmtree(acme)
            acme.symlink_to(outside, target_is_directory=True)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", swapping)
    listing = scan_directory(directory, INCLUDE, ())
    assert swapped
    reasons = {problem.relpath: problem.reason for problem in listing.skipped}
    assert reasons["acme/"].startswith("directory cannot be listed")
    assert not any(relpath.startswith("acme/") for relpath in listing.files)
