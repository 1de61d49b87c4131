"""Robot accounts and the registry password through the REST API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from buildsvc.registry.hashing import verify_secret
from buildsvc.store.models import Account, Robot
from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[AccountInfo]]


def bearer(account: AccountInfo) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


async def claim(client: Client, account: AccountInfo, name: str) -> None:
    answer = await client.post("/api/v1/namespaces", json={"name": name}, headers=bearer(account))
    assert answer.status == 201


async def test_the_registry_password_is_stored_as_a_slow_hash_only(
    client: Client, account: AccountInfo
) -> None:
    answer = await client.put(
        "/api/v1/registry/password", json={"password": "correct horse 42"}, headers=bearer(account)
    )
    assert answer.status == 204
    async with client.app[SESSIONMAKER]() as session:
        stored = await session.scalar(
            select(Account.registry_password_hash).where(Account.id == account.id)
        )
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_secret(stored, "correct horse 42")


async def test_weak_passwords_and_api_tokens_are_refused(
    client: Client, account: AccountInfo
) -> None:
    for password in ("short", "aaaaaaaaaaaaaa", account.token):
        answer = await client.put(
            "/api/v1/registry/password", json={"password": password}, headers=bearer(account)
        )
        body = await answer.json()
        assert (answer.status, body["error"]["code"]) == (400, "WEAK_PASSWORD")
        assert password not in str(body)


async def test_a_robot_lifecycle(client: Client, make_account: MakeAccount) -> None:
    acme = await make_account("acme")
    await claim(client, acme, "acme")
    created = await client.post(
        "/api/v1/robots",
        json={"name": "ci", "permissions": [{"repository": "acme/app", "actions": ["pull"]}]},
        headers=bearer(acme),
    )
    assert created.status == 201
    first = await created.json()
    assert first["username"] == "acme+ci"
    assert first["secret"].startswith("bsr_")

    listed = await (await client.get("/api/v1/robots", headers=bearer(acme))).json()
    [robot] = listed["items"]
    assert "secret" not in robot
    assert first["secret"] not in str(listed)
    assert robot["permissions"] == [
        {"repository": "acme/app", "namespace": None, "actions": ["pull"]}
    ]

    changed = await client.patch(
        "/api/v1/robots/ci",
        json={
            "permissions": [{"namespace": "acme", "actions": ["push", "pull"]}],
            "disabled": True,
        },
        headers=bearer(acme),
    )
    body = await changed.json()
    assert body["disabled"] is True
    assert body["permissions"][0]["actions"] == ["pull", "push"]

    rotated = await (await client.post("/api/v1/robots/ci/secret", headers=bearer(acme))).json()
    assert rotated["secret"] != first["secret"]
    async with client.app[SESSIONMAKER]() as session:
        stored = await session.scalar(select(Robot.secret_hash).where(Robot.name == "ci"))
    assert stored is not None
    assert verify_secret(stored, rotated["secret"])
    assert not verify_secret(stored, first["secret"])

    assert (await client.delete("/api/v1/robots/ci", headers=bearer(acme))).status == 204
    gone = await client.delete("/api/v1/robots/ci", headers=bearer(acme))
    assert (gone.status, (await gone.json())["error"]["code"]) == (404, "ROBOT_NOT_FOUND")


async def test_robot_permissions_stay_inside_the_accounts_namespaces(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, beta = await make_account("alpha"), await make_account("beta")
    await claim(client, alpha, "alpha")
    for permission, detail in (
        ({"repository": "alpha/app", "actions": ["pull"]}, "does not hold namespace alpha"),
        ({"namespace": "free", "actions": ["push"]}, "does not hold namespace free"),
        ({"repository": "a/../b", "actions": ["pull"]}, "not a namespace/name"),
    ):
        answer = await client.post(
            "/api/v1/robots", json={"name": "r", "permissions": [permission]}, headers=bearer(beta)
        )
        body = await answer.json()
        assert (answer.status, body["error"]["code"]) == (400, "INVALID_PERMISSION")
        assert detail in body["error"]["detail"]
    both = await client.post(
        "/api/v1/robots",
        json={"name": "r", "permissions": [{"namespace": "x", "repository": "x/y", "actions": []}]},
        headers=bearer(beta),
    )
    assert both.status == 400


async def test_robot_names_are_unique_per_account(client: Client, account: AccountInfo) -> None:
    first = await client.post("/api/v1/robots", json={"name": "ci"}, headers=bearer(account))
    assert (await first.json())["username"].endswith("+ci")
    again = await client.post("/api/v1/robots", json={"name": "ci"}, headers=bearer(account))
    assert (again.status, (await again.json())["error"]["code"]) == (409, "ROBOT_EXISTS")
    bad = await client.post("/api/v1/robots", json={"name": "CI+x"}, headers=bearer(account))
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "INVALID_ROBOT_NAME")
