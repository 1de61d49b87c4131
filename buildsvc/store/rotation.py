"""Re-encrypt every stored secret with the newest key (after a key was put in front).

Once this ran, the older keys can be removed from ``BUILDSVC_SECRET_KEYS``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.crypto import Cipher
from buildsvc.store.models import ImageRepository, SourceBinding

BATCH_SIZE = 500


async def rotate_stored_secrets(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: Cipher
) -> int:
    """Number of values re-encrypted (forge tokens and webhook secrets)."""
    count = 0
    async with sessionmaker.begin() as session:
        bindings = await session.scalars(
            select(SourceBinding).execution_options(yield_per=BATCH_SIZE)
        )
        for binding in bindings:
            binding.token_encrypted = cipher.rotate(binding.token_encrypted)
            count += 1
        repositories = await session.scalars(
            select(ImageRepository).execution_options(yield_per=BATCH_SIZE)
        )
        for repository in repositories:
            if repository.hook_secret_encrypted is None:  # a plain repository has no hook
                continue
            repository.hook_secret_encrypted = cipher.rotate(repository.hook_secret_encrypted)
            count += 1
    return count
