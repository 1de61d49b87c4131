"""Accounts and API tokens: creation, hashing, authentication, last use."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.accounts.services import authenticate, create_account, hash_token
from buildsvc.errors import Conflict, InvalidInput, Unauthenticated
from buildsvc.store.models import ApiToken
from buildsvc.web.keys import SESSIONMAKER


async def test_create_account_returns_token_stored_only_as_hash(
    client: TestClient[Any, Any],
) -> None:
    sessionmaker = client.app[SESSIONMAKER]
    account, token = await create_account(sessionmaker, "  acme  ")

    assert account.name == "acme"
    assert re.fullmatch(r"bsv_[A-Za-z0-9_-]{43}", token)
    async with sessionmaker() as session:
        stored = (await session.scalars(select(ApiToken))).one()
    assert stored.account_id == account.id
    assert stored.token_hash == hash_token(token) != token
    assert stored.last4 == token[-4:]
    assert stored.last_used_at is None


async def test_duplicate_name_is_a_conflict(client: TestClient[Any, Any]) -> None:
    await create_account(client.app[SESSIONMAKER], "acme")
    with pytest.raises(Conflict) as caught:
        await create_account(client.app[SESSIONMAKER], "acme")
    assert caught.value.code == "ACCOUNT_EXISTS"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "Bad Name!", "Acme", "a--b", "-a"])
async def test_bad_names_are_refused(client: TestClient[Any, Any], name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await create_account(client.app[SESSIONMAKER], name)
    assert caught.value.code == "INVALID_ACCOUNT_NAME"


async def test_authenticate(client: TestClient[Any, Any]) -> None:
    sessionmaker = client.app[SESSIONMAKER]
    account, token = await create_account(sessionmaker, "acme")
    other, other_token = await create_account(sessionmaker, "other")

    assert await authenticate(sessionmaker, token) == account.id
    assert await authenticate(sessionmaker, other_token) == other.id
    for bad in ["", "bsv_", token + "x", token[:-1], "Bearer " + token, "glpat-whatever"]:
        with pytest.raises(Unauthenticated):
            await authenticate(sessionmaker, bad)


async def test_last_used_is_written_at_most_once_a_minute(client: TestClient[Any, Any]) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = client.app[SESSIONMAKER]
    _, token = await create_account(sessionmaker, "acme")

    async def last_used() -> dt.datetime | None:
        async with sessionmaker() as session:
            return await session.scalar(select(ApiToken.last_used_at))

    await authenticate(sessionmaker, token)
    first = await last_used()
    assert first is not None
    await authenticate(sessionmaker, token)
    assert await last_used() == first  # within the minute: no write

    two_minutes_ago = first - dt.timedelta(minutes=2)
    async with sessionmaker.begin() as session:
        await session.execute(update(ApiToken).values(last_used_at=two_minutes_ago))
    await authenticate(sessionmaker, token)
    latest = await last_used()
    assert latest is not None
    assert latest > first - dt.timedelta(seconds=1)
