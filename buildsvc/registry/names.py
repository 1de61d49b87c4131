"""Repository names as Distribution's reference grammar has them, and our shape.

Distribution: a name is path components joined by ``/``, each component
``[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*``, 255 characters at most in all. buildsvc's
image repositories are exactly ``namespace/name`` (two components), so a token scope
naming anything else (``..``, upper case, one or three components) grants nothing.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 255
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def is_component(value: str) -> bool:
    return len(value) <= MAX_NAME_LENGTH and _COMPONENT.fullmatch(value) is not None


def is_repository_name(value: str) -> bool:
    """Valid under Distribution's grammar (any number of components)."""
    if not value or len(value) > MAX_NAME_LENGTH:
        return False
    return all(_COMPONENT.fullmatch(part) for part in value.split("/"))


def split_repository(value: str) -> tuple[str, str] | None:
    """``("ns", "app")`` for ``"ns/app"``; None for any name buildsvc cannot hold."""
    if not is_repository_name(value):
        return None
    parts = value.split("/")
    if len(parts) != 2:
        return None
    return parts[0], parts[1]
