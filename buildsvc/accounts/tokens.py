"""Self-service API tokens: an account makes, lists and revokes its own tokens.

The operator's ``admin create-account`` gives an account its first token; with it, a
user makes more (one per machine or CI job, each with a name and, if wanted, an expiry)
and revokes any of them. A token's plaintext exists only in the answer that creates
it: only its hash and last 4 characters are stored (``accounts.services``). Revoking
deletes the row, so the next request with that token, API or console session, is
refused at once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.accounts.errors import InvalidTokenExpiry, InvalidTokenName, TokenNotFound
from buildsvc.accounts.services import issue_token
from buildsvc.store.models import ApiToken, utcnow

MAX_TOKEN_NAME = 100
MAX_LIFETIME = dt.timedelta(days=3650)


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME or not name.isprintable():
        raise InvalidTokenName(
            detail=f"name: 1 to {MAX_TOKEN_NAME} printable characters (e.g. ci-deploy)"
        )
    return name


def _checked_expiry(expires_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:  # a time without a zone is taken as UTC
        expires_at = expires_at.replace(tzinfo=dt.UTC)
    if expires_at <= now:
        raise InvalidTokenExpiry(detail="expires_at: must be in the future")
    if expires_at - now > MAX_LIFETIME:
        raise InvalidTokenExpiry(detail="expires_at: at most 10 years ahead")
    return expires_at.astimezone(dt.UTC)


async def create_token(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    name: str,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token of the account: its row and its plaintext, which is never stored."""
    checked_name = _checked_name(name)
    checked_expiry = _checked_expiry(expires_at, utcnow())
    async with sessionmaker.begin() as session:
        return await issue_token(session, account_id, checked_name, checked_expiry)


async def list_tokens(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, *, offset: int, limit: int
) -> tuple[list[ApiToken], int]:
    """The account's tokens, newest first, and how many there are."""
    async with sessionmaker() as session:
        total = await session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.account_id == account_id)
        )
        rows = await session.scalars(
            select(ApiToken)
            .where(ApiToken.account_id == account_id)
            .order_by(ApiToken.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), int(total or 0)


async def revoke_token(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, token_id: int
) -> None:
    """Delete one of the account's tokens; another account's is not found."""
    async with sessionmaker.begin() as session:
        deleted = await session.execute(
            delete(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.account_id == account_id)
            .returning(ApiToken.id)
        )
        if deleted.first() is None:
            raise TokenNotFound(detail=f"no API token {token_id} in this account")
