"""Signing keys: created once, rotated with the older certificate kept, pruned later."""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path

from cryptography import x509

from buildsvc.registry.signing import KeyStore, libtrust_kid


def certificates(store: KeyStore) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(store.bundle_path.read_bytes())


def test_the_first_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "registry", "buildsvc", dt.timedelta(minutes=10))
    first = store.ensure()
    assert store.ensure().kid == first.kid  # a second start finds the same key
    assert stat.S_IMODE((tmp_path / "registry" / "signing-1.pem").stat().st_mode) == 0o600
    assert [
        c.fingerprint(first.certificate.signature_hash_algorithm) for c in certificates(store)
    ] == [  # type: ignore[arg-type]
        first.certificate.fingerprint(first.certificate.signature_hash_algorithm)  # type: ignore[arg-type]
    ]


def test_kid_is_libtrust_shaped(tmp_path: Path) -> None:
    key = KeyStore(tmp_path, "buildsvc", dt.timedelta(minutes=10)).ensure()
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", key.kid)
    assert libtrust_kid(key.certificate.public_key()) == key.kid  # type: ignore[arg-type]


def test_rotation_keeps_the_old_certificate_until_its_tokens_expired(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "buildsvc", dt.timedelta(minutes=10))
    old = store.ensure()
    new = store.rotate()
    assert new.number == old.number + 1
    assert new.kid != old.kid
    assert len(certificates(store)) == 2
    assert store.prune() == []  # the new key is younger than the tokens' lifetime
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    assert store.prune(later) == [old.number]
    assert [k.number for k in store.on_disk()] == [new.number]
    assert len(certificates(store)) == 1
