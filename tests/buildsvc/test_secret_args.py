"""Secret build args at rest: only the values of the names marked secret become tokens."""

from __future__ import annotations

import pytest

from buildsvc.crypto import Cipher, SecretUnreadable, generate_key
from buildsvc.secret_args import decrypt_secrets, encrypt_secrets, rotate_secrets

ARGS = {"MODE": "prod", "TOKEN": "hunter2", "EMPTY": ""}


def test_only_secret_values_are_encrypted_and_they_decrypt() -> None:
    cipher = Cipher([generate_key().encode()])
    stored = encrypt_secrets(cipher, ARGS, ["TOKEN", "EMPTY", "NOT_AN_ARG"])
    assert list(stored) == list(ARGS)  # same names, same order
    assert stored["MODE"] == "prod"
    assert "hunter2" not in stored["TOKEN"]
    assert stored["EMPTY"] != ""
    assert decrypt_secrets(cipher, stored, ["TOKEN", "EMPTY", "NOT_AN_ARG"]) == ARGS
    assert encrypt_secrets(cipher, ARGS, []) == ARGS


def test_rotated_values_decrypt_with_the_new_key_alone() -> None:
    old, new = generate_key().encode(), generate_key().encode()
    stored = encrypt_secrets(Cipher([old]), ARGS, ["TOKEN"])
    rotated = rotate_secrets(Cipher([new, old]), stored, ["TOKEN"])
    assert decrypt_secrets(Cipher([new]), rotated, ["TOKEN"]) == ARGS
    with pytest.raises(SecretUnreadable):
        decrypt_secrets(Cipher([new]), stored, ["TOKEN"])
