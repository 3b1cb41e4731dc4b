"""Opening input files without trusting them: regular files only, never blocking."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from connectors.safe_files import (
    NotRegularFile,
    check_regular,
    open_regular,
    printable,
    read_regular,
    readable_by_name,
    utf8_name,
)


def test_a_regular_file_opens_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with open_regular(path) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    assert read_regular(path, 3) == b"a,b\n"  # max_bytes + 1: the caller sees it is larger


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """A blocking open of a FIFO waits for a writer for ever; this one returns at once."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile) as caught:
        open_regular(fifo)
    assert caught.value.strerror == "a FIFO (named pipe), not a regular file"
    assert caught.value.filename == str(fifo)


def test_a_socket_and_a_directory_are_refused_by_kind(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "control.sock"))
        with pytest.raises(NotRegularFile, match="a socket, not a regular file"):
            check_regular(tmp_path / "control.sock")
    finally:
        server.close()
    with pytest.raises(NotRegularFile, match="a directory, not a regular file"):
        open_regular(tmp_path)
    with pytest.raises(NotRegularFile, match="a character device"):
        open_regular("/dev/null")


def test_a_link_to_a_fifo_is_refused_like_the_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "data.csv").symlink_to(tmp_path / "pipe")
    with pytest.raises(NotRegularFile, match="FIFO"):
        open_regular(tmp_path / "data.csv")


def test_names_that_are_not_utf8_are_shown_printably_and_read_by_their_bytes(
    tmp_path: Path,
) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xffname.csv"
    with open(raw, "wb") as handle:
        handle.write(b"x,y\n")
    path = Path(os.fsdecode(raw))
    assert not utf8_name(path) and utf8_name(tmp_path)
    assert printable(path).endswith("bad\\xffname.csv")
    assert readable_by_name(path) == b"x,y\n"
    assert readable_by_name(tmp_path / "other.csv") == tmp_path / "other.csv"
