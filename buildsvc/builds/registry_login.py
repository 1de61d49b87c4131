"""A running build's own registry login, so workers never hold a registry password.

When a worker claims a build it makes a random secret, keeps it in memory only, and
stores its SHA-256 on the build row in the same guarded UPDATE that claims it. It then
logs in to the registry as ``$build+<id>`` with that secret, like any docker client: the
Docker engine (push, base image pulls) and the worker's own registry HTTP calls send it
to the token server, which grants only that build's repository (pull, push, delete) and
pull on what the build's account may pull, and only while the build is running. The
signing key stays with the API. A fast hash suffices: the secret is 256 random bits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

LOGIN_PREFIX = "$build+"  # '$' is in no account or robot name, so the login is unambiguous
_LOGIN = re.compile(r"\$build\+([1-9][0-9]{0,17})")


def login_name(build_id: int) -> str:
    return f"{LOGIN_PREFIX}{build_id}"


def build_id_of(login: str) -> int | None:
    match = _LOGIN.fullmatch(login)
    return int(match.group(1)) if match else None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(stored_hash: str | None, secret: str) -> bool:
    return stored_hash is not None and hmac.compare_digest(stored_hash, secret_hash(secret))
