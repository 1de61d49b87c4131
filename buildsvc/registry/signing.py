"""The token signing key, its self-signed certificate, and the registry's bundle.

Files under ``<data_dir>/registry/`` (created on first start):

- ``signing-<n>.pem``: an EC P-256 private key and its self-signed certificate in one
  file (mode 0600), written to a temporary name and hard-linked into place, so processes
  starting together agree on one key and never read half a file. The highest ``n`` signs.
- ``bundle.pem``: the certificates the registry trusts (``rootcertbundle``): the
  current one and every older one whose tokens may still be unexpired.

Rotation (``rotate``) writes ``signing-<n+1>.pem``, which signs from then on, and adds its
certificate to the bundle beside the older ones. The registry reads its bundle only when
it starts, so restart it right after a rotation; the older certificates stay in the
bundle, so tokens signed before keep working. ``prune`` drops a key once a newer one is
older than ``retired_after`` (the token lifetime plus leeway).

Both key lookups of Distribution are served: the header carries ``kid`` (libtrust's
fingerprint, which 2.8 matches against the bundle's keys) and ``x5c`` (the certificate,
which 2.8 and 3.x verify against the bundle).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import itertools
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from buildsvc.files import write_once

CERTIFICATE_DAYS = 3650
_SIGNING = re.compile(r"signing-(\d+)\.pem")


def libtrust_kid(public_key: ec.EllipticCurvePublicKey) -> str:
    """libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits,
    base32 without padding, in 12 groups of 4 joined by ':'."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True)
class SigningKey:
    number: int
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    created_at: dt.datetime  # the certificate's not-before

    # Computed once per key: every token request signs with these headers.
    @functools.cached_property
    def kid(self) -> str:
        return libtrust_kid(self.private_key.public_key())

    @functools.cached_property
    def x5c(self) -> list[str]:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return [base64.b64encode(der).decode("ascii")]

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _new_key_pem(issuer: str, now: dt.datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{issuer} token signer")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private + certificate.public_bytes(serialization.Encoding.PEM)


def _read(path: Path, number: int) -> SigningKey:
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    certificate = x509.load_pem_x509_certificate(data)
    return SigningKey(number, key, certificate, certificate.not_valid_before_utc)


class KeyStore:
    """The signing keys under one directory; see the module docstring."""

    def __init__(self, directory: Path, issuer: str, retired_after: dt.timedelta) -> None:
        self.directory = directory
        self.issuer = issuer
        self.retired_after = retired_after

    @property
    def bundle_path(self) -> Path:
        return self.directory / "bundle.pem"

    def on_disk(self) -> list[SigningKey]:
        """Every key on disk, oldest first."""
        found = []
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                match = _SIGNING.fullmatch(path.name)
                if match:
                    found.append(_read(path, int(match.group(1))))
        return sorted(found, key=lambda k: k.number)

    def ensure(self) -> SigningKey:
        """The current signing key, creating the first one (and the bundle) if none."""
        keys = self.on_disk()
        if not keys:
            write_once(self.directory / "signing-1.pem", _new_key_pem(self.issuer, _now()))
            keys = self.on_disk()
        self.write_bundle(keys)
        return keys[-1]

    def rotate(self) -> SigningKey:
        keys = self.on_disk() or [self.ensure()]
        number = keys[-1].number + 1
        write_once(self.directory / f"signing-{number}.pem", _new_key_pem(self.issuer, _now()))
        keys = self.on_disk()
        self.write_bundle(keys)
        return keys[-1]

    def prune(self, now: dt.datetime | None = None) -> list[int]:
        """Drop keys whose every token has expired (a newer key exists for long enough)."""
        now = now or _now()
        keys = self.on_disk()
        dropped = []
        for older, newer in itertools.pairwise(keys):
            if now - newer.created_at > self.retired_after:
                (self.directory / f"signing-{older.number}.pem").unlink(missing_ok=True)
                dropped.append(older.number)
        self.write_bundle(self.on_disk())
        return dropped

    def write_bundle(self, keys: list[SigningKey]) -> None:
        data = b"".join(key.certificate_pem for key in keys)
        if self.bundle_path.exists() and self.bundle_path.read_bytes() == data:
            return
        temporary = self.bundle_path.with_name(f".bundle.{os.getpid()}.{secrets.token_hex(4)}")
        temporary.write_bytes(data)
        os.replace(temporary, self.bundle_path)  # readers see the old or the new, whole


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
