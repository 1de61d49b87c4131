"""Signature and token checks. Every secret comparison is ``hmac.compare_digest``.

Three schemes cover the four providers:

* hub signature (GitHub ``X-Hub-Signature-256``, Bitbucket Cloud and Server
  ``X-Hub-Signature``): ``sha256=`` + hex HMAC-SHA256(secret, raw body). Only sha256 is
  accepted: GitHub's legacy sha1 header is ignored on purpose.
* shared token (GitLab ``X-Gitlab-Token``): the secret itself, sent verbatim.
* Standard Webhooks (newer GitLab): ``webhook-signature: v1,<base64>`` (several
  space-separated signatures allowed, any may match) over ``id.timestamp.body``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time

from webhooks._core import Headers
from webhooks._errors import SignatureError
from webhooks._models import Provider

STANDARD_WEBHOOKS_TOLERANCE = 300  # seconds either side of our clock, as the spec suggests


def _bytes(text: str) -> bytes:
    # surrogatepass: header values can carry lone surrogates; encoding must not raise.
    return text.encode("utf-8", "surrogatepass")


def _fail(provider: Provider, message: str, reason: str) -> SignatureError:
    return SignatureError(f"{provider}: {message}", provider=provider, reason=reason)


def require_secret(provider: Provider, secret: str) -> bytes:
    if not secret:
        raise _fail(provider, "no secret configured for this hook", "no_secret")
    return _bytes(secret)


def check_hub_signature(
    provider: Provider, headers: Headers, header: str, body: bytes, secret: str
) -> None:
    key = require_secret(provider, secret)
    value = headers.get(header.lower())
    if value is None:
        raise _fail(provider, f"{header} header missing", "missing")
    algorithm, sep, digest = value.strip().partition("=")
    if not sep:
        raise _fail(provider, f"{header} is not algorithm=hexdigest", "malformed")
    if algorithm.lower() != "sha256":
        raise _fail(
            provider, f"{header} uses an algorithm other than sha256", "unsupported_algorithm"
        )
    expected = hmac.digest(key, body, "sha256").hex().encode("ascii")
    if not hmac.compare_digest(expected, _bytes(digest.lower())):
        raise _fail(provider, f"{header} does not match the body", "mismatch")


def token_matches(token: str, secret: str) -> bool:
    return hmac.compare_digest(_bytes(token), _bytes(secret))


def standard_webhooks_key(provider: Provider, secret: str) -> bytes:
    """``whsec_<base64>`` secrets (what GitLab generates) are base64-decoded; any other
    secret is used as its raw UTF-8 bytes, so a plain shared secret works too."""
    if not secret.startswith("whsec_"):
        return require_secret(provider, secret)
    try:
        key = base64.b64decode(secret[6:], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail(provider, "whsec_ secret is not valid base64", "malformed") from exc
    if not key:
        raise _fail(provider, "whsec_ secret is empty", "no_secret")
    return key


def check_standard_webhooks(
    provider: Provider, headers: Headers, body: bytes, secret: str, now: float | None
) -> None:
    key = standard_webhooks_key(provider, secret)
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if msg_id is None or stamp is None or signatures is None:
        raise _fail(
            provider, "webhook-id, webhook-timestamp or webhook-signature missing", "missing"
        )
    stamp = stamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise _fail(provider, "webhook-timestamp is not Unix seconds", "malformed")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > STANDARD_WEBHOOKS_TOLERANCE:
        raise _fail(provider, "webhook-timestamp outside the 5 minute tolerance", "expired")
    signed = hmac.new(key, _bytes(f"{msg_id}.{stamp}."), "sha256")
    signed.update(body)
    expected = base64.b64encode(signed.digest())
    found = False
    for candidate in signatures.split():
        version, sep, value = candidate.partition(",")
        if version == "v1" and sep:
            found = True
            if hmac.compare_digest(expected, _bytes(value)):
                return
    if not found:
        raise _fail(provider, "webhook-signature has no v1 signature", "malformed")
    raise _fail(provider, "webhook-signature does not match the body", "mismatch")
