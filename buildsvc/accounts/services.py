"""Accounts and API tokens.

A token is ``bsv_`` followed by 43 url-safe characters (256 bits). Only its SHA-256 (hex)
is stored, plus the last 4 characters so a user can tell tokens apart; a fast hash is
right here because the token is random, not a password. ``authenticate`` is on the path
of every API request, so it writes ``last_used_at`` at most once a minute per token, and
refuses a token past its ``expires_at``. Tokens a user makes, lists and revokes
themselves: ``accounts.tokens``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.accounts.errors import AccountExists, InvalidAccountName
from buildsvc.errors import Unauthenticated
from buildsvc.store.models import Account, ApiToken, utcnow

TOKEN_PREFIX = "bsv_"  # noqa: S105 -- a public prefix, not a secret
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_NAME_LENGTH = 100
# Lowercase words joined by single separators, as a Docker repository path component:
# an account name can then serve wherever image names are made of it.
ACCOUNT_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_account(
    sessionmaker: async_sessionmaker[AsyncSession], name: str
) -> tuple[Account, str]:
    """A new account and the plaintext of its first API token (shown once, never stored)."""
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH or not ACCOUNT_NAME.fullmatch(name):
        raise InvalidAccountName(
            detail=f"{name[:40]!r}: 1 to {MAX_NAME_LENGTH} lowercase letters and digits, "
            "with single '.', '_' or '-' between them (e.g. acme, team-a)"
        )
    try:
        async with sessionmaker.begin() as session:
            account = Account(name=name)
            session.add(account)
            await session.flush()
            _, token = await issue_token(session, account.id)
    except IntegrityError as exc:
        raise AccountExists(f"An account named {name!r} already exists.") from exc
    return account, token


async def issue_token(
    session: AsyncSession,
    account_id: int,
    name: str = "default",
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Add an API token to an account in the caller's transaction: its row and plaintext."""
    token = generate_token()
    row = ApiToken(
        account_id=account_id,
        token_hash=hash_token(token),
        last4=token[-4:],
        name=name,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, token


async def authenticate(sessionmaker: async_sessionmaker[AsyncSession], token: str) -> int:
    """The id of the account owning ``token``; ``Unauthenticated`` if there is none."""
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated(detail="not a buildsvc API token")
    digest = hash_token(token)
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(
                    ApiToken.id, ApiToken.account_id, ApiToken.last_used_at, ApiToken.expires_at
                ).where(ApiToken.token_hash == digest)
            )
        ).one_or_none()
        if row is None:
            raise Unauthenticated(detail="unknown or revoked API token")
        token_id, account_id, last_used_at, expires_at = row
        now = utcnow()
        if expires_at is not None and now >= expires_at:
            raise Unauthenticated(
                detail=f"the API token expired at {expires_at:%Y-%m-%d %H:%M} UTC"
            )
        if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
            await _touch(session, token_id, now)
    return int(account_id)


async def _touch(session: AsyncSession, token_id: int, now: dt.datetime) -> None:
    # The WHERE repeats the age check so concurrent requests write once, not N times.
    cutoff = now - LAST_USED_RESOLUTION
    await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff))
        .values(last_used_at=now)
    )
    await session.commit()


async def get_account(sessionmaker: async_sessionmaker[AsyncSession], account_id: int) -> Account:
    async with sessionmaker() as session:
        account = await session.get(Account, account_id)
    if account is None:
        raise Unauthenticated(detail="the account no longer exists")
    return account
