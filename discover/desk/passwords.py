"""Staff passwords: argon2id hashes (argon2-cffi's defaults), never stored in clear."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from discover.errors import InputError

MIN_PASSWORD = 12
_HASHER = PasswordHasher()
#: verified against when the user does not exist, so that both cases take as long
_DUMMY = _HASHER.hash("not-a-password-of-anyone")


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` fits the hash; an unknown user costs the same time."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
