"""Masker: every registered secret, in every shape it leaks in, becomes ****."""

from __future__ import annotations

import base64
import json
import secrets
import time
from urllib.parse import quote, quote_plus

import pytest

from buildsvc.worker.masking import MASK, Masker


@pytest.fixture
def secret() -> str:
    # Characters that URL-encoding and base64 treat specially.
    return f"p@ss/w:rd+{secrets.token_hex(6)}"


def test_plain_secret_is_masked(secret: str) -> None:
    masker = Masker([secret])
    assert masker.mask(f"token={secret} and again {secret}") == f"token={MASK} and again {MASK}"


def test_url_encoded_forms_are_masked(secret: str) -> None:
    masker = Masker([secret])
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        assert secret not in encoded or encoded == secret
        assert (
            masker.mask(f"https://u:{encoded}@host/repo.git") == f"https://u:{MASK}@host/repo.git"
        )


def test_base64_of_secret_is_masked(secret: str) -> None:
    masker = Masker([secret])
    encoded = base64.b64encode(secret.encode()).decode()
    assert encoded not in masker.mask(f"X-Auth: {encoded}")


@pytest.mark.parametrize("username", ["", "a", "ab", "abc", "oauth2", "x-access-token"])
def test_basic_auth_credential_is_masked_for_any_username(secret: str, username: str) -> None:
    # Registered without the username: every base64 alignment must still be caught.
    masker = Masker([secret])
    credential = base64.b64encode(f"{username}:{secret}".encode()).decode()
    masked = masker.mask(f"Authorization: Basic {credential}")
    assert MASK in masked
    assert credential not in masked
    # What is left cannot be decoded back to the secret.
    assert secret not in base64.b64decode(
        masked.split()[-1].replace(MASK, "") + "==", validate=False
    ).decode(errors="ignore")


def test_basic_auth_with_known_username_masks_whole_credential(secret: str) -> None:
    masker = Masker()
    masker.add(secret, username="buildsvc")
    credential = base64.b64encode(f"buildsvc:{secret}".encode()).decode()
    assert masker.mask(f"Authorization: Basic {credential}") == f"Authorization: Basic {MASK}"


def test_docker_auth_config_header_is_masked(secret: str) -> None:
    header = base64.urlsafe_b64encode(
        json.dumps({"username": "buildsvc", "password": secret}).encode()
    ).decode()
    assert header not in Masker([secret]).mask(header)


def test_unrelated_text_and_empty_secrets_are_left_alone() -> None:
    masker = Masker(["", None])
    assert not masker
    line = "Step 2/3 : RUN echo hello"
    assert masker.mask(line) == line
    assert Masker(["s3cr3t-value"]).mask(line) == line


def test_many_secrets_many_lines_is_fast() -> None:
    tokens = [secrets.token_urlsafe(20) for _ in range(10)]
    masker = Masker(tokens)
    lines = [f"Step {i}/100000 : RUN echo building layer {i} of the image" for i in range(100_000)]
    lines[500] += tokens[3]

    started = time.perf_counter()
    masked = [masker.mask(line) for line in lines]
    elapsed = time.perf_counter() - started

    started = time.perf_counter()
    batch = masker.mask_lines(lines)
    batch_elapsed = time.perf_counter() - started

    assert masked[500].endswith(MASK)
    assert batch == masked
    # About 0.4 s and 0.08 s on an idle machine; the bounds leave room for a busy CI host.
    assert elapsed < 5.0, f"masking 100k lines one by one took {elapsed:.2f} s"
    assert batch_elapsed < 1.0, f"masking 100k lines as a batch took {batch_elapsed:.2f} s"


def test_multiline_secret_is_masked_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQAB\n-----END KEY-----"
    masked = Masker([key]).mask_lines(["AAAAB3NzaC1yc2EAAAADAQAB", "plain"])
    assert masked == [MASK, "plain"]
