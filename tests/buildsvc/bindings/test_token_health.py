"""Token health on all four forges: a token the forge now refuses marks the binding
``broken`` with the reason, ``GET /api/v1/sources`` shows it, re-binding clears it, and
``POST /api/v1/sources/{provider}/check`` re-validates it. A missing permission on one
repository is not a broken token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.common.forge_env import PROVIDERS, ForgeEnv, bind, call, link, make_forge_env
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    served_client,
    served_settings,
)

REDIS_DB = 1
FORGES = {
    "gitlab": "GitLab",
    "github": "GitHub",
    "bitbucket": "Bitbucket",
    "bitbucket-server": "Bitbucket Server",
}


@pytest.fixture(params=PROVIDERS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ForgeEnv]:
    with make_forge_env(request.param, tmp_path / "forge") as made:
        yield made


async def binding(client: Client, headers: dict[str, str], provider: str) -> dict[str, Any]:
    status, body = await call(client, headers, "GET", "/api/v1/sources")
    assert status == 200, body
    [found] = [b for b in body["items"] if b["provider"] == provider]
    return dict(found)


async def check(client: Client, headers: dict[str, str], provider: str) -> tuple[int, Any]:
    return await call(client, headers, "POST", f"/api/v1/sources/{provider}/check")


async def test_a_refused_token_breaks_the_binding_until_it_is_bound_again(
    client: Client, auth_headers: dict[str, str], env: ForgeEnv
) -> None:
    await bind(client, auth_headers, env)
    env.forge.admin.revoke_token(env.token)
    path = f"/api/v1/sources/{env.provider}/namespaces"
    status, refused = await call(client, auth_headers, "GET", path)
    assert (status, refused["error"]["code"]) == (502, "SOURCE_ERROR_RESPONSE")

    broken = await binding(client, auth_headers, env.provider)
    assert broken["status"] == "broken"
    assert broken["broken_reason"].startswith(
        f"refused while listing namespaces: {FORGES[env.provider]} answered 401"
    )
    assert env.token not in str(broken)
    status, checked = await check(client, auth_headers, env.provider)  # still refused
    assert (status, checked["status"]) == (200, "broken")
    assert checked["broken_reason"] == broken["broken_reason"]  # the first reason stays

    fresh = env.new_token()
    status, rebound = await call(
        client, auth_headers, "POST", "/api/v1/sources", env.bind_body(token=fresh)
    )
    assert status == 201, rebound
    assert (rebound["status"], rebound["broken_reason"]) == ("ok", None)
    status, _ = await call(client, auth_headers, "GET", path)
    assert status == 200


async def test_check_revalidates_the_stored_token(
    client: Client, auth_headers: dict[str, str], env: ForgeEnv
) -> None:
    bound = await bind(client, auth_headers, env)
    status, checked = await check(client, auth_headers, env.provider)
    assert status == 200, checked
    assert (checked["status"], checked["scopes"], checked["warnings"]) == (
        "ok",
        bound["scopes"],
        bound["warnings"],
    )

    env.forge.admin.set_fault(path_regex=".", reset=True)
    status, unreachable = await check(client, auth_headers, env.provider)
    assert (status, unreachable["error"]["code"]) == (502, "SOURCE_UNREACHABLE")
    env.forge.admin.clear_faults()
    assert (await binding(client, auth_headers, env.provider))["status"] == "ok"

    env.forge.admin.revoke_token(env.token)
    status, checked = await check(client, auth_headers, env.provider)
    assert status == 200, checked
    assert checked["status"] == "broken"
    assert checked["broken_reason"].startswith(f"refused on check: {FORGES[env.provider]} answered")


async def test_check_clears_a_mark_the_token_no_longer_deserves(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        env.forge.admin.set_fault(path_regex="/api/v4/", status=401, times=1)
        status, _ = await call(client, auth_headers, "GET", "/api/v1/sources/gitlab/namespaces")
        assert status == 502
        assert (await binding(client, auth_headers, "gitlab"))["status"] == "broken"
        status, checked = await check(client, auth_headers, "gitlab")
        assert (status, checked["status"], checked["broken_reason"]) == (200, "ok", None)


async def test_unknown_or_unbound_provider(client: Client, auth_headers: dict[str, str]) -> None:
    status, body = await check(client, auth_headers, "gitlab")
    assert (status, body["error"]["code"]) == (404, "SOURCE_NOT_BOUND")
    status, body = await check(client, auth_headers, "sourceforge")
    assert (status, body["error"]["code"]) == (404, "UNKNOWN_PROVIDER")


@pytest.mark.parametrize(
    ("provider", "token"),
    [
        ("bitbucket", ["account", "repository"]),  # no webhook scope
        ("bitbucket-server", ["REPO_READ"]),  # Bitbucket Server's 401 AuthorisationException
        ("github", {"contents": "write", "statuses": "write"}),  # fine-grained, no webhooks
    ],
)
async def test_a_token_unable_to_make_hooks_is_not_broken(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, provider: str, token: Any
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        if isinstance(token, dict):
            secret = env.forge.admin.create_fine_grained_token("alice", token)
        else:
            secret = env.forge.admin.create_token("alice", token)
        status, body = await call(
            client, auth_headers, "POST", "/api/v1/sources", env.bind_body(token=secret)
        )
        assert status == 201, body
        spec = {
            "namespace": "team",
            "name": "app",
            "source": {"provider": provider, "repository": env.repository},
        }
        status, body = await call(client, auth_headers, "POST", "/api/v1/repositories", spec)
        assert (status, body["error"]["code"]) == (422, "SOURCE_ERROR_RESPONSE"), body
        assert (await binding(client, auth_headers, provider))["status"] == "ok"


async def test_a_token_without_a_read_permission_is_broken(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("github", tmp_path / "forge") as env:
        secret = env.forge.admin.create_fine_grained_token("alice", {"webhooks": "write"})
        status, body = await call(
            client, auth_headers, "POST", "/api/v1/sources", env.bind_body(token=secret)
        )
        assert status == 201, body
        repo = await link(client, auth_headers, env)  # metadata and webhooks: enough
        path = f"/api/v1/repositories/{repo['id']}/builds"
        status, body = await call(client, auth_headers, "POST", path, {"ref": "main"})
        assert (status, body["error"]["code"]) == (502, "SOURCE_ERROR_RESPONSE"), body
        broken = await binding(client, auth_headers, "github")
        assert broken["status"] == "broken"
        assert broken["broken_reason"].startswith(
            "refused while resolving refs/heads/main in acme/app: GitHub answered 403"
        )


async def test_linking_works_after_a_token_was_refused_and_replaced(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("github", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        env.forge.admin.revoke_token(env.token)
        status, _ = await call(
            client, auth_headers, "GET", "/api/v1/sources/github/repositories?namespace=acme"
        )
        assert status == 502
        status, rebound = await call(
            client, auth_headers, "POST", "/api/v1/sources", env.bind_body(token=env.new_token())
        )
        assert (status, rebound["status"]) == (201, "ok")
        repo = await link(client, auth_headers, env)
        assert repo["hook"]["id"]


@pytest.mark.parametrize("provider", ["gitlab", "github"])
async def test_expiry_shows_with_a_warning_within_14_days(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, provider: str
) -> None:
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)
    with make_forge_env(provider, tmp_path / "forge") as env:
        scopes = ["api"] if provider == "gitlab" else ["repo", "admin:repo_hook"]
        secret = env.forge.admin.create_token("alice", scopes, expires_at=soon.isoformat())
        status, body = await call(
            client, auth_headers, "POST", "/api/v1/sources", env.bind_body(token=secret)
        )
        assert status == 201, body
        listed = await binding(client, auth_headers, provider)
        assert listed["expires_at"] == soon.isoformat()
        assert any(f"expires on {soon.isoformat()} (in 5 days)" in w for w in listed["warnings"])
        status, checked = await check(client, auth_headers, provider)
        assert (status, checked["status"], checked["expires_at"]) == (200, "ok", soon.isoformat())
