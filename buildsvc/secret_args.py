"""Secret build args at rest: each value a rule marks secret is stored as a Fernet token.

``build_args`` stays one JSON map in ``build_rules`` and ``builds``; only the values of
the names listed in ``secret_build_args`` are tokens of ``crypto.Cipher`` (the forge
tokens' keys and rotation). So:

- the repository service encrypts when it writes a rule;
- intake and manual builds copy the rule's map as it is: no work per push;
- readers that mask by name (API, console) need no key;
- only the worker (just before it builds), the console's "an empty value keeps the
  stored one" and key rotation (``store.rotation``) touch the tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from buildsvc.crypto import Cipher

__all__ = ["decrypt_secrets", "encrypt_secrets", "rotate_secrets"]


def _each_secret(
    args: Mapping[str, Any], secret: Iterable[Any], change: Callable[[str], str]
) -> dict[str, str]:
    names = {str(name) for name in secret}
    return {str(k): change(str(v)) if k in names else str(v) for k, v in args.items()}


def encrypt_secrets(
    cipher: Cipher, args: Mapping[str, Any], secret: Iterable[Any]
) -> dict[str, str]:
    """``args`` as stored: the values of the ``secret`` names encrypted."""
    return _each_secret(args, secret, cipher.encrypt)


def decrypt_secrets(
    cipher: Cipher, args: Mapping[str, Any], secret: Iterable[Any]
) -> dict[str, str]:
    """Stored ``args`` in clear (raises ``crypto.SecretUnreadable``)."""
    return _each_secret(args, secret, cipher.decrypt)


def rotate_secrets(
    cipher: Cipher, args: Mapping[str, Any], secret: Iterable[Any]
) -> dict[str, str]:
    """Stored ``args`` with their secret values re-encrypted with the newest key."""
    return _each_secret(args, secret, cipher.rotate)
