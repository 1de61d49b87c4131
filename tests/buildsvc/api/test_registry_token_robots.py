"""The token endpoint records a robot's use (throttled) and answers unknown logins only
after a hash verification, as it does wrong passwords."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from buildsvc.config import Settings
from buildsvc.registry import principals
from tests.common.factories import AccountInfo
from tests.common.tokens_env import PUSH, basic, bearer, robot, setup_alpha, token_for

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[AccountInfo]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Every request reaches the decision (no reuse): the throttle itself is under test.
    return settings.model_copy(update={"registry_token_cache_seconds": 0})


async def _last_used(client: Client, owner: AccountInfo, name: str) -> str | None:
    answer = await client.get("/api/v1/robots", headers=bearer(owner.token))
    robots = {item["name"]: item for item in (await answer.json())["items"]}
    value = robots[name]["last_used_at"]
    return None if value is None else str(value)


async def test_a_robot_login_records_its_use_once_a_minute(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    secret = await robot(client, alpha, "ci", [{"repository": "alpha/app", "actions": ["pull"]}])
    assert await _last_used(client, alpha, "ci") is None

    assert (await token_for(client, [PUSH], basic("alpha+ci", secret)))[0] == 200
    first = await _last_used(client, alpha, "ci")
    assert first is not None
    assert (await token_for(client, [PUSH], basic("alpha+ci", secret)))[0] == 200

    assert await _last_used(client, alpha, "ci") == first  # not a write per request


async def test_a_refused_robot_secret_is_not_recorded_as_use(
    client: Client, make_account: MakeAccount
) -> None:
    alpha, _ = await setup_alpha(client, make_account)
    await robot(client, alpha, "ci", [])

    assert (await token_for(client, [PUSH], basic("alpha+ci", "bsr_wrong")))[0] == 401

    assert await _last_used(client, alpha, "ci") is None


@pytest.mark.parametrize("login", ["nobody", "nobody+robot", "alpha+nobody"])
async def test_unknown_logins_are_verified_against_a_hash_too(
    client: Client, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch, login: str
) -> None:
    await setup_alpha(client, make_account)
    verified: list[str] = []
    real = principals.verify_secret

    def counting(stored_hash: str, value: str) -> bool:
        verified.append(stored_hash)
        return real(stored_hash, value)

    monkeypatch.setattr(principals, "verify_secret", counting)

    status, _ = await token_for(client, [PUSH], basic(login, "some password 1"))

    assert status == 401
    assert len(verified) == 1  # the same argon2 work as a wrong password costs
    assert verified[0].startswith("$argon2id$")
