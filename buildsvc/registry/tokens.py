"""Registry tokens as Distribution's token auth wants them.

Claims: ``iss`` (the issuer in the registry's config), ``sub`` (who asked; empty for
anonymous), ``aud`` (the service, a plain string: 2.8 takes an array as malformed),
``exp``/``nbf``/``iat`` as integers, ``jti``, and ``access``: one
``{type, name, actions}`` per granted resource. ES256 (PyJWT writes the raw r||s that
JWS wants).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from buildsvc.registry.signing import SigningKey

# kid and x5c both: 2.8 finds the key either way, 3.x by x5c. One alone is for tests
# proving each form against the real registry.
HeaderForm = Literal["both", "kid", "x5c"]
NOT_BEFORE_SKEW = dt.timedelta(seconds=10)  # clocks of registry and API may differ


@dataclass(frozen=True, slots=True)
class Access:
    type: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_in: int
    issued_at: dt.datetime


def mint(
    key: SigningKey,
    *,
    issuer: str,
    service: str,
    subject: str,
    access: list[Access],
    lifetime: dt.timedelta,
    now: dt.datetime,
    header_form: HeaderForm = "both",
) -> Issued:
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": service,
        "exp": int((now + lifetime).timestamp()),
        "nbf": int((now - NOT_BEFORE_SKEW).timestamp()),
        "iat": int(now.timestamp()),
        "jti": secrets.token_urlsafe(16),
        "access": [item.claim() for item in access],
    }
    headers: dict[str, Any] = {"typ": "JWT"}
    if header_form in ("both", "kid"):
        headers["kid"] = key.kid
    if header_form in ("both", "x5c"):
        headers["x5c"] = key.x5c
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers=headers)
    return Issued(token, int(lifetime.total_seconds()), now)
