"""``/api/v1/tokens``: self-service API tokens, shown once, listed without their secret,
revoked at once; expired tokens are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from buildsvc.store.models import ApiToken
from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo

Client = TestClient[Any, Any]
LISTED_FIELDS = {"id", "name", "last4", "created_at", "last_used_at", "expires_at"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create(client: Client, token: str, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/v1/tokens", json=body, headers=bearer(token))
    return response.status, await response.json()


async def test_a_token_is_shown_once_listed_without_its_secret_and_revoked_at_once(
    client: Client, account: AccountInfo
) -> None:
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    status, created = await create(
        client, account.token, name="ci-deploy", expires_at=expires.isoformat()
    )
    assert status == 201, created
    assert set(created) == {"id", "name", "token", "expires_at"}
    assert created["name"] == "ci-deploy"
    assert created["expires_at"] == expires.isoformat().replace("+00:00", "Z")
    new = created["token"]
    assert new.startswith("bsv_")
    assert new != account.token

    used = await client.get("/api/v1/builds", headers=bearer(new))
    assert used.status == 200

    listed = await client.get("/api/v1/tokens", headers=bearer(account.token))
    answer = await listed.json()
    assert answer["total"] == 2
    assert all(set(item) == LISTED_FIELDS for item in answer["items"])
    assert new not in await listed.text()
    newest = answer["items"][0]
    assert (newest["id"], newest["last4"]) == (created["id"], new[-4:])
    assert newest["last_used_at"] is not None  # the request above used it
    assert answer["items"][1]["name"] == "default"  # the operator's first token

    revoked = await client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer(account.token))
    assert (revoked.status, await revoked.json()) == (200, {"id": created["id"], "revoked": True})
    refused = await client.get("/api/v1/builds", headers=bearer(new))
    assert refused.status == 401
    assert (await refused.json())["error"]["detail"] == "unknown or revoked API token"


async def test_another_accounts_token_cannot_be_revoked(
    client: Client, account: AccountInfo, make_account: Any
) -> None:
    other = await make_account()
    _, theirs = await create(client, other.token, name="theirs")
    response = await client.delete(f"/api/v1/tokens/{theirs['id']}", headers=bearer(account.token))
    assert (response.status, (await response.json())["error"]["code"]) == (404, "TOKEN_NOT_FOUND")
    still = await client.get("/api/v1/builds", headers=bearer(theirs["token"]))
    assert still.status == 200


async def test_an_expired_token_is_refused(client: Client, account: AccountInfo) -> None:
    _, created = await create(client, account.token, name="short-lived")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    async with client.app[SESSIONMAKER].begin() as session:
        await session.execute(
            update(ApiToken).where(ApiToken.id == created["id"]).values(expires_at=past)
        )
    refused = await client.get("/api/v1/builds", headers=bearer(created["token"]))
    assert refused.status == 401
    assert (await refused.json())["error"]["detail"].startswith("the API token expired at ")


async def test_bad_names_and_expiries_are_refused(client: Client, account: AccountInfo) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    cases = [
        ({"name": "   "}, "INVALID_TOKEN_NAME"),
        ({"name": "x", "expires_at": past}, "INVALID_TOKEN_EXPIRY"),
        ({"name": "x", "expires_at": "2999-01-01T00:00:00Z"}, "INVALID_TOKEN_EXPIRY"),
        ({"name": "x", "secret": "mine"}, "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        status, answer = await create(client, account.token, **body)
        assert (status, answer["error"]["code"]) == (400, code), body
