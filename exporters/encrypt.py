"""Encryption for sending a package by e-mail: an AES-256 encrypted ZIP (WinZip AE-2).

Why this format: the recipient is a private person. An AES-encrypted ZIP opens with
tools they have or can get for free on every platform (7-Zip on Windows, Keka or The
Unarchiver on macOS, ``7z x`` on Linux, WinZip, most Android/iOS file managers), with
nothing more than the passphrase; OpenPGP or age would be stronger formats but need
software and key handling a recipient rarely has. AE-2 uses AES-256 in CTR mode with
an HMAC-SHA1 per file and a PBKDF2-derived key, so contents are confidential and
tampering is detected. File *names* inside the archive stay readable (a limit of the
ZIP format), so they never hold personal data here (they are the record-type names).
Note that the built-in Windows Explorer and macOS Archive Utility cannot open AES
ZIPs; the package's own README (outside the archive only the manifest is) and the
e-mail must say so.

The passphrase comes from an environment variable or an interactive prompt (see the
CLI), never from a command-line argument, and must be at least
:data:`MIN_PASSPHRASE` characters long.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import pyzipper

from discover.errors import ExportError
from discover.files import FILE_MODE

MIN_PASSPHRASE = 12
#: unambiguous characters for generated passphrases (no 0/O, 1/l/I), easy to read out
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def check_passphrase(passphrase: str) -> str:
    """The passphrase, or ExportError when it is too short to protect personal data."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ExportError(f"the passphrase must be at least {MIN_PASSPHRASE} characters long")
    return passphrase


def generate_passphrase(groups: int = 4) -> str:
    """A random passphrase such as ``k7mpq-x3vht-9cwra-2bnde`` (about 99 bits for 4 groups)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(groups))


def encrypt_directory(
    directory: Path, names: Sequence[str], archive: str, folder: str, passphrase: str
) -> Path:
    """Write ``directory/archive``: the named files under ``folder/``, AES-256, deflated."""
    check_passphrase(passphrase)
    target = directory / archive
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with (
        os.fdopen(fd, "wb") as handle,
        pyzipper.AESZipFile(
            handle, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
        ) as zipped,
    ):
        zipped.setpassword(passphrase.encode("utf-8"))
        zipped.setencryption(pyzipper.WZ_AES, nbits=256)
        for name in sorted(names):
            zipped.write(directory / name, arcname=f"{folder}/{name}")
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    return target


def decrypt_archive(archive: Path, passphrase: str, into: Path) -> list[Path]:
    """Extract an encrypted package (used by tests and by staff to check a package)."""
    with pyzipper.AESZipFile(archive) as zipped:
        zipped.setpassword(passphrase.encode("utf-8"))
        for info in zipped.infolist():
            if not info.flag_bits & 0x1:
                raise ExportError(f"{archive}: {info.filename} is not encrypted")
        zipped.extractall(into)
        return [into / name for name in zipped.namelist()]
