"""verify(): vectors computed independently of Python's hmac (GitHub's docs, the
Standard Webhooks spec, and ``openssl dgst -sha256 -hmac`` for the others)."""

from __future__ import annotations

import time

import pytest

from webhooks import SignatureError, UnsupportedEvent, gitlab, verify
from webhooks._core import Headers

# docs.github.com "Validating webhook deliveries"
GITHUB_SECRET, GITHUB_BODY = "It's a Secret to Everybody", b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
# printf '%s' BODY | openssl dgst -sha256 -hmac SECRET
SERVER_SECRET, SERVER_BODY = "bitbucket-server-secret", b'{"test": true}'
SERVER_SIGNATURE = "sha256=49e692954b2c59e383acc2d83afa0fc2da5e9e2087a1e65bee67fad7da12711b"
CLOUD_SECRET, CLOUD_BODY = "bitbucket-cloud-secret", b'{"push": {"changes": []}}'
CLOUD_SIGNATURE = "sha256=0c086a5a8e9bd28df05c6b6b221bddbb232acac3d82d405bf9f59f52c113b17f"
# The Standard Webhooks specification's example (whsec_ secret, base64 key)
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID, SW_TIMESTAMP, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# A plain (not whsec_) secret is used as raw bytes; computed with openssl as above
PLAIN_SECRET, PLAIN_ID, PLAIN_TIMESTAMP = "plain shared secret", "msg_2", "1700000000"
PLAIN_BODY, PLAIN_SIGNATURE = (
    b'{"object_kind":"push"}',
    "v1,tSwrkZNRZ/4MaRjsuw0fS6RnKUcmGHPY7Gs0fFSq+/E=",
)

HUB_CASES = [
    ("github", "X-Hub-Signature-256", GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE),
    ("bitbucket", "X-Hub-Signature", CLOUD_SECRET, CLOUD_BODY, CLOUD_SIGNATURE),
    ("bitbucket-server", "X-Hub-Signature", SERVER_SECRET, SERVER_BODY, SERVER_SIGNATURE),
]


@pytest.mark.parametrize(("provider", "header", "secret", "body", "signature"), HUB_CASES)
def test_hub_signature_vectors(
    provider: str, header: str, secret: str, body: bytes, signature: str
) -> None:
    verify(provider, {header: signature}, body, secret)
    verify(
        provider, {header.lower(): signature.upper().replace("SHA256=", "sha256=")}, body, secret
    )


@pytest.mark.parametrize(("provider", "header", "secret", "body", "signature"), HUB_CASES)
@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, s, b, sig: ({h: sig}, s + "x", b), "mismatch"),
        (lambda h, s, b, sig: ({h: sig}, s, b + b" "), "mismatch"),
        (lambda h, s, b, sig: ({}, s, b), "missing"),
        (lambda h, s, b, sig: ({h: sig}, "", b), "no_secret"),
        (lambda h, s, b, sig: ({h: sig.removeprefix("sha256=")}, s, b), "malformed"),
        (lambda h, s, b, sig: ({h: "sha1=" + sig[7:47]}, s, b), "unsupported_algorithm"),
        (lambda h, s, b, sig: ({h: sig[:-1] + "\ud800"}, s, b), "mismatch"),
        (lambda h, s, b, sig: ({h: sig[:-2]}, s, b), "mismatch"),
    ],
)
def test_hub_signature_failures(
    provider: str,
    header: str,
    secret: str,
    body: bytes,
    signature: str,
    mutate: object,
    reason: str,
) -> None:
    headers, used_secret, used_body = mutate(header, secret, body, signature)  # type: ignore[operator]
    with pytest.raises(SignatureError) as caught:
        verify(provider, headers, used_body, used_secret)
    assert (caught.value.reason, caught.value.provider) == (reason, provider)
    assert secret not in caught.value.message


def test_github_legacy_sha1_header_alone_is_not_enough() -> None:
    with pytest.raises(SignatureError) as caught:
        verify("github", {"X-Hub-Signature": "sha1=" + "0" * 40}, GITHUB_BODY, GITHUB_SECRET)
    assert caught.value.reason == "missing"


def test_gitlab_token_is_compared_verbatim() -> None:
    verify("gitlab", {"X-Gitlab-Token": "tok-123"}, b"{}", "tok-123")
    for token, reason in (("tok-1234", "mismatch"), ("TOK-123", "mismatch")):
        with pytest.raises(SignatureError) as caught:
            verify("gitlab", {"x-gitlab-token": token}, b"{}", "tok-123")
        assert caught.value.reason == reason
    with pytest.raises(SignatureError) as caught:
        verify("gitlab", {"X-Gitlab-Event": "Push Hook"}, b"{}", "tok-123")
    assert caught.value.reason == "missing"


def standard(msg_id: str, stamp: str, signature: str) -> Headers:
    return Headers(
        {"webhook-id": msg_id, "Webhook-Timestamp": stamp, "WEBHOOK-SIGNATURE": signature}
    )


def test_standard_webhooks_spec_vector_with_whsec_secret() -> None:
    now = float(SW_TIMESTAMP) + 10
    gitlab.verify(standard(SW_ID, SW_TIMESTAMP, SW_SIGNATURE), SW_BODY, SW_SECRET, now=now)


def test_standard_webhooks_with_a_plain_secret() -> None:
    now = float(PLAIN_TIMESTAMP)
    gitlab.verify(
        standard(PLAIN_ID, PLAIN_TIMESTAMP, PLAIN_SIGNATURE), PLAIN_BODY, PLAIN_SECRET, now=now
    )


def test_any_of_several_signatures_may_match() -> None:
    several = f"v1,bm90IHRoaXMgb25l v2,whatever {SW_SIGNATURE}"
    gitlab.verify(
        standard(SW_ID, SW_TIMESTAMP, several), SW_BODY, SW_SECRET, now=float(SW_TIMESTAMP)
    )


@pytest.mark.parametrize(
    ("headers", "secret", "body", "offset", "reason"),
    [
        (standard(SW_ID, SW_TIMESTAMP, SW_SIGNATURE), SW_SECRET, SW_BODY + b" ", 0, "mismatch"),
        (standard("msg_other", SW_TIMESTAMP, SW_SIGNATURE), SW_SECRET, SW_BODY, 0, "mismatch"),
        (
            standard(SW_ID, SW_TIMESTAMP, SW_SIGNATURE),
            "whsec_" + "A" * 43 + "=",
            SW_BODY,
            0,
            "mismatch",
        ),
        (standard(SW_ID, SW_TIMESTAMP, SW_SIGNATURE), SW_SECRET, SW_BODY, 301, "expired"),
        (standard(SW_ID, SW_TIMESTAMP, SW_SIGNATURE), SW_SECRET, SW_BODY, -301, "expired"),
        (standard(SW_ID, "16142653x0", SW_SIGNATURE), SW_SECRET, SW_BODY, 0, "malformed"),
        (standard(SW_ID, SW_TIMESTAMP, "v2,abc"), SW_SECRET, SW_BODY, 0, "malformed"),
        (standard(SW_ID, SW_TIMESTAMP, SW_SIGNATURE), "whsec_not base64!", SW_BODY, 0, "malformed"),
        (Headers({"webhook-signature": SW_SIGNATURE}), SW_SECRET, SW_BODY, 0, "missing"),
    ],
)
def test_standard_webhooks_failures(
    headers: Headers, secret: str, body: bytes, offset: int, reason: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        gitlab.verify(headers, body, secret, now=float(SW_TIMESTAMP) + offset)
    assert caught.value.reason == reason


def test_standard_webhooks_through_the_public_verify_uses_the_clock() -> None:
    stamp = str(int(time.time()))
    with pytest.raises(SignatureError) as caught:  # fresh timestamp, signature of another one
        verify(
            "gitlab",
            {"webhook-id": SW_ID, "webhook-timestamp": stamp, "webhook-signature": SW_SIGNATURE},
            SW_BODY,
            SW_SECRET,
        )
    assert caught.value.reason == "mismatch"
    with pytest.raises(SignatureError) as caught:  # the spec's 2021 timestamp is long expired
        verify(
            "gitlab",
            {
                "webhook-id": SW_ID,
                "webhook-timestamp": SW_TIMESTAMP,
                "webhook-signature": SW_SIGNATURE,
            },
            SW_BODY,
            SW_SECRET,
        )
    assert caught.value.reason == "expired"


def test_gitlab_accepts_either_mechanism_that_matches() -> None:
    headers = {
        "X-Gitlab-Token": "some other token",
        "webhook-id": PLAIN_ID,
        "webhook-timestamp": PLAIN_TIMESTAMP,
        "webhook-signature": PLAIN_SIGNATURE,
    }
    gitlab.verify(Headers(headers), PLAIN_BODY, PLAIN_SECRET, now=float(PLAIN_TIMESTAMP))
    headers["X-Gitlab-Token"] = PLAIN_SECRET
    gitlab.verify(Headers(headers), b"any body", PLAIN_SECRET, now=0.0)  # the token suffices


def test_unknown_provider() -> None:
    with pytest.raises(UnsupportedEvent):
        verify("gitea", {}, b"", "secret")
