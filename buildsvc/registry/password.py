"""An account's registry logon password: what ``docker login -u <account>`` takes.

Independent of API tokens (a token is refused at the registry; a password is refused
at the API). Stored as an argon2 hash only.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.accounts.services import TOKEN_PREFIX
from buildsvc.registry.errors import WeakPassword
from buildsvc.registry.hashing import ROBOT_SECRET_PREFIX, hash_secret
from buildsvc.store.models import Account

MIN_LENGTH = 10
MAX_LENGTH = 256


def check_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(detail=f"password: {MIN_LENGTH} to {MAX_LENGTH} characters")
    if password.startswith((TOKEN_PREFIX, ROBOT_SECRET_PREFIX)):
        # An API token or robot secret reused as a password would outlive its revocation.
        raise WeakPassword(detail="password: choose one that is not an API token or secret")
    if len(set(password)) < 4:
        raise WeakPassword(detail="password: use at least 4 different characters")


async def set_password(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, password: str
) -> None:
    check_password(password)
    digest = hash_secret(password)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Account).where(Account.id == account_id).values(registry_password_hash=digest)
        )
