"""The slow hash of registry passwords and robot secrets (argon2id, argon2-cffi).

Verification costs tens of milliseconds on purpose; the token server keeps recently
verified credentials briefly (``principals.VerifiedCache``) so docker's repeated token
requests do not pay it each time.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROBOT_SECRET_PREFIX = "bsr_"  # noqa: S105 -- a public prefix, not a secret

_hasher = PasswordHasher()  # argon2id with the library's maintained defaults


def hash_secret(value: str) -> str:
    return _hasher.hash(value)


def verify_secret(stored_hash: str, value: str) -> bool:
    try:
        return _hasher.verify(stored_hash, value)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_robot_secret() -> str:
    return ROBOT_SECRET_PREFIX + secrets.token_urlsafe(32)
