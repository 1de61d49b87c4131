"""Re-encrypt every stored secret with the newest key (after a key was put in front).

Once this ran, the older keys can be removed from ``BUILDSVC_SECRET_KEYS``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.crypto import Cipher
from buildsvc.store.models import ImageRepository, SourceBinding


async def rotate_stored_secrets(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: Cipher
) -> int:
    """Number of values re-encrypted (forge tokens and webhook secrets)."""
    count = 0
    # Every row loaded changes and stays in the session until the commit, so streaming
    # them (yield_per, which AsyncSession.scalars refuses anyway) would save nothing.
    async with sessionmaker.begin() as session:
        for binding in await session.scalars(select(SourceBinding)):
            binding.token_encrypted = cipher.rotate(binding.token_encrypted)
            count += 1
        for repository in await session.scalars(select(ImageRepository)):
            repository.hook_secret_encrypted = cipher.rotate(repository.hook_secret_encrypted)
            count += 1
    return count
