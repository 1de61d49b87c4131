"""Owned namespaces and plain repositories through the REST API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from tests.common.factories import AccountInfo

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[AccountInfo]]


def bearer(account: AccountInfo) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


async def test_claim_list_and_delete_a_namespace(client: Client, account: AccountInfo) -> None:
    created = await client.post(
        "/api/v1/namespaces", json={"name": "alpha"}, headers=bearer(account)
    )
    assert created.status == 201
    assert (await created.json())["name"] == "alpha"

    listed = await (await client.get("/api/v1/namespaces", headers=bearer(account))).json()
    assert [(n["name"], n["repositories"]) for n in listed["items"]] == [("alpha", 0)]

    again = await client.post("/api/v1/namespaces", json={"name": "alpha"}, headers=bearer(account))
    assert (again.status, (await again.json())["error"]["code"]) == (409, "NAMESPACE_EXISTS")

    gone = await client.delete("/api/v1/namespaces/alpha", headers=bearer(account))
    assert gone.status == 204
    listed = await (await client.get("/api/v1/namespaces", headers=bearer(account))).json()
    assert listed == {"items": [], "total": 0}


async def test_another_accounts_namespace_is_taken(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, beta = await make_account("alpha"), await make_account("beta")
    await client.post("/api/v1/namespaces", json={"name": "alpha"}, headers=bearer(alpha))

    taken = await client.post("/api/v1/namespaces", json={"name": "alpha"}, headers=bearer(beta))
    assert (taken.status, (await taken.json())["error"]["code"]) == (409, "NAMESPACE_TAKEN")
    # Nor can beta give it up or see it.
    refused = await client.delete("/api/v1/namespaces/alpha", headers=bearer(beta))
    assert (await refused.json())["error"]["code"] == "NAMESPACE_NOT_FOUND"


async def test_a_cross_account_repository_is_refused(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, beta = await make_account("alpha"), await make_account("beta")
    first = await client.post(
        "/api/v1/repositories", json={"namespace": "alpha", "name": "app"}, headers=bearer(alpha)
    )
    assert first.status == 201

    second = await client.post(
        "/api/v1/repositories", json={"namespace": "alpha", "name": "app"}, headers=bearer(beta)
    )
    assert (second.status, (await second.json())["error"]["code"]) == (409, "NAMESPACE_TAKEN")


async def test_a_plain_repository_claims_its_namespace(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, beta = await make_account("alpha"), await make_account("beta")
    answer = await client.post(
        "/api/v1/repositories", json={"namespace": "tools", "name": "cli"}, headers=bearer(alpha)
    )
    body = await answer.json()
    assert answer.status == 201
    assert (body["visibility"], body["source"], body["hook"], body["rules"]) == (
        "private",
        None,
        None,
        [],
    )
    assert body["image"].endswith("/tools/cli")

    listed = await (await client.get("/api/v1/namespaces", headers=bearer(alpha))).json()
    assert [(n["name"], n["repositories"]) for n in listed["items"]] == [("tools", 1)]
    taken = await client.post("/api/v1/namespaces", json={"name": "tools"}, headers=bearer(beta))
    assert taken.status == 409

    busy = await client.delete("/api/v1/namespaces/tools", headers=bearer(alpha))
    assert (busy.status, (await busy.json())["error"]["code"]) == (409, "NAMESPACE_NOT_EMPTY")

    one = await (
        await client.get(f"/api/v1/repositories/{body['id']}", headers=bearer(alpha))
    ).json()
    assert (one["source"], one["hook"], one["last_delivery"]) == (None, None, None)


async def test_visibility_is_set_at_creation_and_changed_with_patch(
    client: Client, account: AccountInfo
) -> None:
    created = await client.post(
        "/api/v1/repositories",
        json={"namespace": "pub", "name": "app", "visibility": "public"},
        headers=bearer(account),
    )
    repo = await created.json()
    assert repo["visibility"] == "public"
    changed = await client.patch(
        f"/api/v1/repositories/{repo['id']}",
        json={"visibility": "private"},
        headers=bearer(account),
    )
    assert (await changed.json())["visibility"] == "private"
    wrong = await client.patch(
        f"/api/v1/repositories/{repo['id']}", json={"visibility": "open"}, headers=bearer(account)
    )
    assert wrong.status == 400


async def test_a_plain_repository_cannot_be_built(client: Client, account: AccountInfo) -> None:
    created = await client.post(
        "/api/v1/repositories", json={"namespace": "ns", "name": "app"}, headers=bearer(account)
    )
    repo = await created.json()
    build = await client.post(
        f"/api/v1/repositories/{repo['id']}/builds", json={"ref": "main"}, headers=bearer(account)
    )
    assert (build.status, (await build.json())["error"]["code"]) == (409, "NO_SOURCE")


async def test_invalid_names_and_networks(client: Client, account: AccountInfo) -> None:
    for body, code in (
        ({"name": "Alpha"}, "INVALID_NAMESPACE"),
        ({"name": "a..b"}, "INVALID_NAMESPACE"),
        ({"name": "ok", "allowed_networks": ["10.0.0.0/33"]}, "INVALID_NETWORK"),
    ):
        answer = await client.post("/api/v1/namespaces", json=body, headers=bearer(account))
        assert (answer.status, (await answer.json())["error"]["code"]) == (400, code), body


async def test_allowed_networks_are_kept_normalised(client: Client, account: AccountInfo) -> None:
    await client.post(
        "/api/v1/namespaces",
        json={"name": "lan", "allowed_networks": ["10.1.2.3/8"]},
        headers=bearer(account),
    )
    changed = await client.patch(
        "/api/v1/namespaces/lan",
        json={"allowed_networks": ["192.168.0.0/16", "::1/128"]},
        headers=bearer(account),
    )
    assert (await changed.json())["allowed_networks"] == ["192.168.0.0/16", "::1/128"]


async def test_an_invalid_plain_repository_name(client: Client, account: AccountInfo) -> None:
    answer = await client.post(
        "/api/v1/repositories",
        json={"namespace": "ok", "name": "Bad..Name"},
        headers=bearer(account),
    )
    assert (answer.status, (await answer.json())["error"]["code"]) == (400, "INVALID_NAME")
