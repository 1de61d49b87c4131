"""``GET /v2/token``: who is granted what, and what a refusal looks like."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from buildsvc.builds import registry_login
from buildsvc.config import Settings
from buildsvc.registry.decisions import DecisionCache
from buildsvc.web.keys import SESSIONMAKER, TOKEN_SERVER
from tests.common.factories import AccountInfo, add_build, add_repository
from tests.common.tokens_env import (
    PASSWORD,
    PUSH,
    access,
    basic,
    bearer,
    robot,
    setup_alpha,
    token_for,
)

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[AccountInfo]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Revocations must show at once here; the decision cache has tests of its own.
    return settings.model_copy(update={"registry_token_cache_seconds": 0})


async def test_the_owner_gets_what_it_asks(client: Client, make_account: MakeAccount) -> None:
    await setup_alpha(client, make_account)
    status, claims = await token_for(client, [PUSH], basic("alpha", PASSWORD))
    assert status == 200
    assert claims is not None
    assert access(claims) == [("repository", "alpha/app", ["pull", "push"])]
    assert claims["sub"] == "alpha"
    assert isinstance(claims["aud"], str)
    assert claims["exp"] - claims["iat"] == 300


async def test_a_push_to_a_new_name_creates_it_private(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    await token_for(client, [PUSH], basic("alpha", PASSWORD))
    listed = await (await client.get("/api/v1/repositories", headers=bearer(alpha.token))).json()
    assert [(r["namespace"], r["name"], r["visibility"]) for r in listed["items"]] == [
        ("alpha", "app", "private")
    ]


async def test_another_account_gets_nothing(client: Client, make_account: MakeAccount) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    status, claims = await token_for(client, [PUSH], basic("beta", PASSWORD))
    assert (status, access(claims)) == (200, [])
    listed = await (await client.get("/api/v1/repositories", headers=bearer(alpha.token))).json()
    assert listed["total"] == 0  # nor did beta's try create anything


@pytest.mark.parametrize("password", ["wrong password", "", None])
async def test_wrong_credentials_get_a_bare_401(
    client: Client, make_account: MakeAccount, password: str | None
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    status, _ = await token_for(client, [PUSH], basic("alpha", password or alpha.token))
    assert status == 401  # an API token is no registry password either


async def test_docker_login_checks_need_credentials(
    client: Client, make_account: MakeAccount
) -> None:
    await setup_alpha(client, make_account)
    assert (await token_for(client, []))[0] == 401  # anonymous with no scope
    status, claims = await token_for(client, [], basic("alpha", PASSWORD))
    assert (status, access(claims)) == (200, [])
    assert (await token_for(client, [], basic("nobody", PASSWORD)))[0] == 401


async def test_anonymous_pulls_public_repositories_only(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    for name, visibility in (("open", "public"), ("closed", "private")):
        await client.post(
            "/api/v1/repositories",
            json={"namespace": "alpha", "name": name, "visibility": visibility},
            headers=bearer(alpha.token),
        )
    status, claims = await token_for(
        client, ["repository:alpha/open:pull,push", "repository:alpha/closed:pull"]
    )
    assert (status, access(claims)) == (200, [("repository", "alpha/open", ["pull"])])


async def test_robots_get_their_permissions_only(client: Client, make_account: MakeAccount) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    puller = await robot(
        client, alpha, "puller", [{"repository": "alpha/app", "actions": ["pull"]}]
    )
    idle = await robot(client, alpha, "idle", [])
    status, claims = await token_for(client, [PUSH], basic("alpha+puller", puller))
    assert (status, access(claims)) == (200, [("repository", "alpha/app", ["pull"])])
    status, claims = await token_for(client, [PUSH], basic("alpha+idle", idle))
    assert (status, access(claims)) == (200, [])
    assert (await token_for(client, [PUSH], basic("alpha+idle", puller)))[0] == 401

    await client.patch(
        "/api/v1/robots/puller", json={"disabled": True}, headers=bearer(alpha.token)
    )
    assert (await token_for(client, [PUSH], basic("alpha+puller", puller)))[0] == 401


async def test_an_expired_robot_is_refused(client: Client, make_account: MakeAccount) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    answer = await client.post(
        "/api/v1/robots",
        json={
            "name": "old",
            "permissions": [{"namespace": "alpha", "actions": ["pull"]}],
            "expires_at": past,
        },
        headers=bearer(alpha.token),
    )
    secret = (await answer.json())["secret"]
    assert (await token_for(client, [PUSH], basic("alpha+old", secret)))[0] == 401


async def test_a_rotated_secret_or_changed_password_stops_working_at_once(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    first = await robot(client, alpha, "ci", [{"namespace": "alpha", "actions": ["pull"]}])
    assert (await token_for(client, [PUSH], basic("alpha+ci", first)))[0] == 200  # now cached
    await client.post("/api/v1/robots/ci/secret", headers=bearer(alpha.token))
    assert (await token_for(client, [PUSH], basic("alpha+ci", first)))[0] == 401

    assert (await token_for(client, [PUSH], basic("alpha", PASSWORD)))[0] == 200
    await client.put(
        "/api/v1/registry/password",
        json={"password": "another pass 2"},
        headers=bearer(alpha.token),
    )
    assert (await token_for(client, [PUSH], basic("alpha", PASSWORD)))[0] == 401


@pytest.mark.parametrize(
    "scope",
    [
        "registry:catalog:*",
        "repository:alpha/../beta:pull",
        "repository:alpha/App:pull",
        "repository:alpha/a/b:pull",
        "repository:alpha:pull",
        "repository:nobody/app:pull,push",
        "repository(plugin):alpha/app:pull",
        "garbage",
    ],
)
async def test_scopes_that_grant_nothing(
    client: Client, make_account: MakeAccount, scope: str
) -> None:
    await setup_alpha(client, make_account)
    status, claims = await token_for(client, [scope], basic("alpha", PASSWORD))
    assert (status, access(claims)) == (200, [])


async def test_repeated_scopes_are_each_answered(client: Client, make_account: MakeAccount) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    await client.post(
        "/api/v1/repositories",
        json={"namespace": "alpha", "name": "base", "visibility": "public"},
        headers=bearer(alpha.token),
    )
    status, claims = await token_for(
        client,
        ["repository:alpha/app:push", "repository:alpha/base:pull", "repository:alpha/app:pull"],
        basic("beta", PASSWORD),
    )
    assert (status, access(claims)) == (200, [("repository", "alpha/base", ["pull"])])
    status, claims = await token_for(
        client, ["repository:alpha/app:push", "repository:alpha/app:pull"], basic("alpha", PASSWORD)
    )
    assert access(claims) == [("repository", "alpha/app", ["pull", "push"])]


async def test_allowed_networks_refuse_other_clients(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    await client.patch(
        "/api/v1/namespaces/alpha",
        json={"allowed_networks": ["10.0.0.0/8"]},
        headers=bearer(alpha.token),
    )
    status, claims = await token_for(client, [PUSH], basic("alpha", PASSWORD))
    assert (status, access(claims)) == (200, [])  # the test client comes from 127.0.0.1
    await client.patch(
        "/api/v1/namespaces/alpha",
        json={"allowed_networks": ["10.0.0.0/8", "127.0.0.0/8"]},
        headers=bearer(alpha.token),
    )
    status, claims = await token_for(client, [PUSH], basic("alpha", PASSWORD))
    assert access(claims) == [("repository", "alpha/app", ["pull", "push"])]


async def test_repeated_failures_are_slowed_down(client: Client, make_account: MakeAccount) -> None:
    await setup_alpha(client, make_account)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    client.app[TOKEN_SERVER].throttle.sleep = record
    for _ in range(6):
        assert (await token_for(client, [PUSH], basic("alpha", "not it at all")))[0] == 401
    assert waits == [0.5, 1.0, 2.0]
    assert (await token_for(client, [PUSH], basic("alpha", PASSWORD)))[0] == 200
    assert waits[-1] == 4.0  # the right password waited too, then cleared the count
    assert (await token_for(client, [PUSH], basic("alpha", "not it at all")))[0] == 401
    assert len(waits) == 4


async def running_build(client: Client, owner: AccountInfo, name: str, status: str) -> str:
    """A build of ``alpha/<name>`` in ``status`` with a registry secret; its login."""
    secret = registry_login.new_secret()
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, owner.id, namespace="alpha", name=name)
        build = await add_build(
            session,
            owner.id,
            repository.id,
            status=status,
            registry_secret_hash=registry_login.secret_hash(secret),
        )
    return f"{registry_login.login_name(build.id)}:{secret}"


async def test_a_running_build_gets_its_repository_and_pulls_of_the_account(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    login, _, secret = (await running_build(client, alpha, "app", "building")).partition(":")
    status, claims = await token_for(
        client,
        ["repository:alpha/app:pull,push,delete", "repository:alpha/base:pull,push"],
        basic(login, secret),
    )
    assert (status, claims and claims["sub"]) == (200, login)
    assert access(claims) == [
        ("repository", "alpha/app", ["pull", "push", "delete"]),
        ("repository", "alpha/base", ["pull"]),
    ]
    assert (await token_for(client, [PUSH], basic(login, "guessed")))[0] == 401


@pytest.mark.parametrize("status", ["queued", "succeeded", "failed", "cancelled"])
async def test_a_build_login_ends_with_the_build(
    client: Client, make_account: MakeAccount, status: str
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    login, _, secret = (await running_build(client, alpha, "app", status)).partition(":")
    assert (await token_for(client, [PUSH], basic(login, secret)))[0] == 401


async def test_a_decision_is_reused_briefly(
    client: Client, make_account: MakeAccount, settings: Settings
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    now = [0.0]
    client.app[TOKEN_SERVER].decisions = DecisionCache(2.0, clock=lambda: now[0])
    secret = await robot(client, alpha, "ci", [{"namespace": "alpha", "actions": ["pull"]}])
    assert (await token_for(client, [PUSH], basic("alpha+ci", secret)))[0] == 200
    await client.post("/api/v1/robots/ci/secret", headers=bearer(alpha.token))
    status, claims = await token_for(client, [PUSH], basic("alpha+ci", secret))
    assert (status, access(claims)) == (200, [("repository", "alpha/app", ["pull"])])
    now[0] = 2.1  # the decision has lapsed
    assert (await token_for(client, [PUSH], basic("alpha+ci", secret)))[0] == 401
