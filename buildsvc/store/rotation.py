"""Re-encrypt every stored secret with the newest key (after a key was put in front).

Forge tokens, webhook secrets, the rules' secret build args and notification targets'
URLs and signing secrets go in one transaction. Builds keep a copy of their rule's build
args, and their history grows without bound, so they go afterwards in batches, each a
transaction of its own: on SQLite a single transaction would hold the write lock, and
stall every webhook, for all of them. Builds
are read after the rules are committed, so only a build whose transaction copied a rule
before that and committed after its id was passed (possible on PostgreSQL) keeps an old
token; running this again is harmless and catches it.

Once this ran, the older keys can be removed from ``BUILDSVC_SECRET_KEYS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.crypto import Cipher
from buildsvc.secret_args import rotate_secrets
from buildsvc.store.models import (
    Build,
    BuildRule,
    ImageRepository,
    NotificationTarget,
    SourceBinding,
)

BATCH_SIZE = 500


async def rotate_stored_secrets(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: Cipher, *, batch_size: int = BATCH_SIZE
) -> int:
    """Number of values re-encrypted (forge tokens, webhook secrets, secret build args,
    notification URLs and signing secrets)."""
    count = 0
    # Every row loaded changes and stays in the session until the commit, so streaming
    # them (yield_per, which AsyncSession.scalars refuses anyway) would save nothing.
    async with sessionmaker.begin() as session:
        for binding in await session.scalars(select(SourceBinding)):
            binding.token_encrypted = cipher.rotate(binding.token_encrypted)
            count += 1
        for repository in await session.scalars(select(ImageRepository)):
            if repository.hook_secret_encrypted is None:  # a plain repository has no hook
                continue
            repository.hook_secret_encrypted = cipher.rotate(repository.hook_secret_encrypted)
            count += 1
        for rule in await session.scalars(select(BuildRule)):
            if secrets := _secret_count(rule.build_args, rule.secret_build_args):
                rule.build_args = rotate_secrets(cipher, rule.build_args, rule.secret_build_args)
                count += secrets
        for target in await session.scalars(select(NotificationTarget)):
            target.url_encrypted = cipher.rotate(target.url_encrypted)
            count += 1
            if target.secret_encrypted is not None:
                target.secret_encrypted = cipher.rotate(target.secret_encrypted)
                count += 1
    return count + await _rotate_builds(sessionmaker, cipher, batch_size)


async def _rotate_builds(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: Cipher, batch_size: int
) -> int:
    count, after = 0, 0
    statement = (
        update(Build).where(Build.id == bindparam("b_id")).values(build_args=bindparam("b_args"))
    )
    while True:
        async with sessionmaker.begin() as session:
            rows = (
                await session.execute(
                    select(Build.id, Build.build_args, Build.secret_build_args)
                    .where(Build.id > after)
                    .order_by(Build.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return count
            after = rows[-1].id
            changed = [
                {
                    "b_id": row.id,
                    "b_args": rotate_secrets(cipher, row.build_args, row.secret_build_args),
                }
                for row in rows
                if _secret_count(row.build_args, row.secret_build_args)
            ]
            if changed:  # one executemany; no ORM objects for history rows
                connection = await session.connection()
                await connection.execute(statement, changed)
                count += sum(_secret_count(r.build_args, r.secret_build_args) for r in rows)


def _secret_count(args: Mapping[str, Any], secret: Sequence[Any]) -> int:
    return sum(1 for name in set(secret) if name in args)
