"""Secrets at rest: round trip, key rotation, the generated key file."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from buildsvc.config import Settings
from buildsvc.crypto import Cipher, SecretUnreadable, generate_key, load_or_create_key_file

PLAIN = "forge-token-" + "z" * 12


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    cipher = Cipher([generate_key().encode()])
    token = cipher.encrypt(PLAIN)
    assert PLAIN not in token
    assert cipher.decrypt(token) == PLAIN
    assert cipher.encrypt(PLAIN) != token  # random IV


def test_rotation(settings: Settings) -> None:
    old, new = generate_key(), generate_key()
    before = Cipher.from_settings(settings.model_copy(update={"secret_keys": SecretStr(old)}))
    stored = before.encrypt(PLAIN)

    # New key in front, old one still listed: old values still decrypt.
    both = Cipher.from_settings(
        settings.model_copy(update={"secret_keys": SecretStr(f"{new}, {old}")})
    )
    assert both.decrypt(stored) == PLAIN
    rotated = both.rotate(stored)

    # After rotation the old key can go.
    only_new = Cipher([new.encode()])
    assert only_new.decrypt(rotated) == PLAIN
    with pytest.raises(SecretUnreadable) as caught:
        only_new.decrypt(stored)
    assert caught.value.code == "SECRET_UNREADABLE"
    with pytest.raises(SecretUnreadable):
        only_new.decrypt("garbage")


def test_key_file_generated_once_with_mode_0600(settings: Settings) -> None:
    first = Cipher.from_settings(settings)
    key_file = settings.data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = Cipher.from_settings(settings)
    assert second.decrypt(first.encrypt(PLAIN)) == PLAIN
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no temp files left


def test_racing_processes_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "secret.key"
    with ProcessPoolExecutor(max_workers=4) as pool:
        keys = list(pool.map(load_or_create_key_file, [path] * 12))
    assert len(set(keys)) == 1
    assert keys[0] == path.read_bytes().strip()


def test_corrupt_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("not a key\n")
    with pytest.raises(ValueError, match=r"secret\.key"):
        load_or_create_key_file(path)
