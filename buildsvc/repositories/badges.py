"""Build status badges: one per repository and rule, at a public URL without a token.

The URL carries a key, an HMAC of the rule id under the repository's own hook secret
(random, stored encrypted, stable for the repository's life): only someone given the
URL can read the status, and rotating the encryption keys changes nothing. Whoever has
no key, or a wrong one, or names a repository or rule that does not exist, gets the one
same answer, so a badge URL reveals no repository's existence or name; with the key it
reveals the newest build's status of that rule, nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.crypto import Cipher, SecretUnreadable
from buildsvc.store.models import Build, BuildRule, ImageRepository

__all__ = ["UNKNOWN", "Badge", "badge_key", "badge_paths", "read_badge"]

KEY_LENGTH = 32  # hex characters: 128 bits


@dataclass(frozen=True, slots=True)
class Badge:
    """What a badge shows: ``status`` is a build status, ``none`` (never built) or
    ``unknown`` (no such badge, or a wrong key)."""

    status: str


UNKNOWN = Badge("unknown")


def badge_key(hook_secret: str, rule_id: int) -> str:
    digest = hmac.new(hook_secret.encode(), f"badge/{rule_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:KEY_LENGTH]


def badge_paths(cipher: Cipher, repository: ImageRepository) -> dict[int, str]:
    """Each rule's badge path and query, for the repository's owner to copy; none when
    the hook secret cannot be read (a retired key: the badges say unknown then too)."""
    if repository.hook_secret_encrypted is None:  # a plain repository: no rules to badge
        return {}
    try:
        secret = cipher.decrypt(repository.hook_secret_encrypted)
    except SecretUnreadable:
        return {}
    return {
        rule.id: f"/badges/{repository.id}/{rule.id}.svg?key={badge_key(secret, rule.id)}"
        for rule in repository.rules
    }


async def read_badge(
    sessionmaker: async_sessionmaker[AsyncSession],
    cipher: Cipher,
    repository_id: int,
    rule_id: int,
    key: str,
) -> Badge:
    """The badge of the repository's rule, or ``UNKNOWN`` unless ``key`` is its key."""
    if not key.isascii():  # compare_digest takes ASCII strings only
        return UNKNOWN
    async with sessionmaker() as session:
        secret = await session.scalar(
            select(ImageRepository.hook_secret_encrypted)
            .join(BuildRule, BuildRule.repository_id == ImageRepository.id)
            .where(ImageRepository.id == repository_id, BuildRule.id == rule_id)
        )
        if secret is None:
            return UNKNOWN
        try:
            expected = badge_key(cipher.decrypt(secret), rule_id)
        except SecretUnreadable:
            return UNKNOWN
        if len(key) != KEY_LENGTH or not hmac.compare_digest(expected, key):
            return UNKNOWN
        status = await session.scalar(
            select(Build.status)
            .where(Build.repository_id == repository_id, Build.rule_id == rule_id)
            .order_by(Build.id.desc())
            .limit(1)
        )
    return Badge(status or "none")
