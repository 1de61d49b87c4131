"""Registry tokens as Distribution's token auth wants them.

Claims: ``iss`` (the issuer in the registry's config), ``sub`` (who asked; empty for
anonymous), ``aud`` (the service, a plain string: 2.8 takes an array as malformed),
``exp``/``nbf``/``iat`` as integers, ``jti``, and ``access``: one
``{type, name, actions}`` per granted resource. ES256, the signature as the raw r||s
that JWS wants. Every token request mints one, so the JWS is put together here: the
header segment (with the key's kid and its certificate) is encoded once per key, and
only the claims are serialised and signed per token.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from buildsvc.registry.signing import SigningKey

# kid and x5c both: 2.8 finds the key either way, 3.x by x5c. One alone is for tests
# proving each form against the real registry.
HeaderForm = Literal["both", "kid", "x5c"]
NOT_BEFORE_SKEW = dt.timedelta(seconds=10)  # clocks of registry and API may differ
ES256 = ec.ECDSA(hashes.SHA256())
P256_BYTES = 32


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
    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = f"{_header_segment(key, header_form)}.{_b64url(payload)}"
    r, s = decode_dss_signature(key.private_key.sign(signing_input.encode("ascii"), ES256))
    signature = r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")
    return Issued(f"{signing_input}.{_b64url(signature)}", int(lifetime.total_seconds()), now)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@functools.lru_cache(maxsize=16)  # a few keys live at once (rotation), in 3 forms at most
def _header_segment(key: SigningKey, header_form: HeaderForm) -> str:
    headers: dict[str, Any] = {"alg": "ES256", "typ": "JWT"}
    if header_form in ("both", "kid"):
        headers["kid"] = key.kid
    if header_form in ("both", "x5c"):
        headers["x5c"] = key.x5c
    return _b64url(json.dumps(headers, separators=(",", ":")).encode())
