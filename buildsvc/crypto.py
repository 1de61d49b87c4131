"""Encryption of secrets at rest (forge tokens, webhook secrets) with rotatable keys.

Keys come from ``settings.secret_keys`` (comma-separated Fernet keys, newest first) or,
for the embedded default, from ``<data_dir>/secret.key``, generated on first use with
mode 0600. Encryption always uses the newest key; decryption tries every key, so a new
key can be put in front and the old ones retired after ``rotate`` re-encrypted the rows.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from buildsvc.config import Settings
from buildsvc.errors import ServiceError
from buildsvc.files import write_once

KEY_FILE_NAME = "secret.key"


class SecretUnreadable(ServiceError):
    """A stored secret does not decrypt with any configured key (a key was retired early)."""

    code = "SECRET_UNREADABLE"
    status = 500
    default_message = "A stored secret cannot be decrypted with the configured keys."


class Cipher:
    """Encrypts and decrypts text with a MultiFernet over the configured keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> Cipher:
        if settings.secret_keys is not None:
            raw = settings.secret_keys.get_secret_value()
            keys = [part.strip().encode() for part in raw.split(",") if part.strip()]
            if keys:
                return cls(keys)
        return cls([load_or_create_key_file(settings.data_dir / KEY_FILE_NAME)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(detail="no configured key decrypts this value") from exc

    def rotate(self, token: str) -> str:
        """The same plaintext re-encrypted with the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(detail="no configured key decrypts this value") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load_or_create_key_file(path: Path) -> bytes:
    """The key in ``path``, creating it (mode 0600) if absent.

    Several processes may start together on a fresh data directory. Each writes a
    complete key to its own temporary file and hard-links it into place: ``link`` fails
    if the name exists, so exactly one key wins, readers never see a half-written file,
    and the losers read the winner's key.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    write_once(path, Fernet.generate_key() + b"\n")
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError as exc:  # fail here, naming the file, rather than on first use
        raise ValueError(f"{path} does not hold a Fernet key: {exc}") from exc
    return key
