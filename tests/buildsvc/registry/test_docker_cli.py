"""The real docker CLI against a real registry started with the printed config.

Every message checked is what docker itself prints; every grant comes from buildsvc's
``GET /v2/token`` through the Docker daemon.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass

import aiohttp
import pytest

from buildsvc.accounts.services import create_account
from buildsvc.registry import namespaces, plain, robots
from buildsvc.registry.password import set_password
from buildsvc.registry.permissions import Permission
from buildsvc.registry.signing import KeyStore
from buildsvc.registry.tokens import Access, HeaderForm, mint
from buildsvc.web.keys import SESSIONMAKER, TOKEN_SERVER
from tests.buildsvc.registry.registry_env import RegistryStack

pytestmark = pytest.mark.e2e

UNAUTHORIZED = "unauthorized: authentication required"
DENIED = "denied: requested access to the resource is denied"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    password: str
    api_token: str


async def user(stack: RegistryStack, name: str, namespace: str | None = None) -> User:
    sessionmaker = stack.app[SESSIONMAKER]
    account, token = await create_account(sessionmaker, name)
    password = f"{name} registry password"
    await set_password(sessionmaker, account.id, password)
    if namespace is not None:
        await namespaces.create(sessionmaker, account.id, namespace)
    return User(account.id, name, password, token)


def run(stack: RegistryStack, who: str, *args: str) -> tuple[int, str]:
    result = stack.docker(stack.config_dir(who), *args)
    return result.returncode, result.stdout + result.stderr


async def docker(stack: RegistryStack, who: str, *args: str) -> tuple[int, str]:
    return await asyncio.to_thread(run, stack, who, *args)


async def login(stack: RegistryStack, who: str, login_name: str, password: str) -> tuple[int, str]:
    result = await asyncio.to_thread(stack.login, stack.config_dir(who), login_name, password)
    return result.returncode, result.stdout + result.stderr


async def pushed(stack: RegistryStack, who: str, reference: str) -> str:
    """Push a new image as ``who`` (logged in); its image id."""
    name = await asyncio.to_thread(stack.image, reference)
    code, output = await docker(stack, who, "push", name)
    assert code == 0, output
    return await asyncio.to_thread(stack.image_id, name)


async def test_a_wrong_password_and_an_api_token_are_refused(
    registry_stack: RegistryStack,
) -> None:
    alpha = await user(registry_stack, "alpha", "alpha")
    code, output = await login(registry_stack, "alpha", "alpha", "not the password")
    assert code != 0
    assert UNAUTHORIZED in output
    code, output = await login(registry_stack, "alpha", "alpha", alpha.api_token)
    assert code != 0
    assert UNAUTHORIZED in output
    code, output = await login(registry_stack, "alpha", "alpha", alpha.password)
    assert (code, "Login Succeeded" in output) == (0, True), output


async def test_the_owner_pushes_and_pulls(registry_stack: RegistryStack) -> None:
    alpha = await user(registry_stack, "alpha", "alpha")
    assert (await login(registry_stack, "alpha", "alpha", alpha.password))[0] == 0
    image_id = await pushed(registry_stack, "alpha", "alpha/app:v1")
    name = f"{registry_stack.registry}/alpha/app:v1"
    await asyncio.to_thread(registry_stack.forget, name)

    code, output = await docker(registry_stack, "alpha", "pull", name)
    assert code == 0, output
    assert await asyncio.to_thread(registry_stack.image_id, name) == image_id
    code, output = await docker(registry_stack, "alpha", "pull", f"{name[:-3]}:nope")
    assert code != 0
    assert "not found" in output
    assert "manifest unknown" in output


async def test_another_account_can_neither_overwrite_nor_pull(
    registry_stack: RegistryStack,
) -> None:
    alpha = await user(registry_stack, "alpha", "alpha")
    beta = await user(registry_stack, "beta", "beta")
    assert (await login(registry_stack, "alpha", "alpha", alpha.password))[0] == 0
    assert (await login(registry_stack, "beta", "beta", beta.password))[0] == 0
    original = await pushed(registry_stack, "alpha", "alpha/app:latest")

    # The overwrite: beta pushing its own image to alpha/app.
    intruder = await asyncio.to_thread(registry_stack.image, "alpha/app:latest")
    code, output = await docker(registry_stack, "beta", "push", intruder)
    assert code != 0
    assert DENIED in output
    code, output = await docker(registry_stack, "beta", "pull", intruder)
    assert code != 0
    assert "pull access denied" in output
    assert DENIED in output

    await asyncio.to_thread(registry_stack.forget, intruder)
    code, output = await docker(registry_stack, "alpha", "pull", intruder)
    assert code == 0, output
    assert await asyncio.to_thread(registry_stack.image_id, intruder) == original


async def test_robots_pull_only_or_nothing(registry_stack: RegistryStack) -> None:
    alpha = await user(registry_stack, "alpha", "alpha")
    assert (await login(registry_stack, "alpha", "alpha", alpha.password))[0] == 0
    await pushed(registry_stack, "alpha", "alpha/app:v1")
    sessionmaker = registry_stack.app[SESSIONMAKER]
    owner = alpha.id
    puller = await robots.create(
        sessionmaker, owner, "puller", [Permission(repository="alpha/app", actions=["pull"])]
    )
    idle = await robots.create(sessionmaker, owner, "idle", [])
    name = f"{registry_stack.registry}/alpha/app:v1"

    assert (await login(registry_stack, "puller", puller.username, puller.secret))[0] == 0
    await asyncio.to_thread(registry_stack.forget, name)
    code, output = await docker(registry_stack, "puller", "pull", name)
    assert code == 0, output
    code, output = await docker(registry_stack, "puller", "push", name)
    assert code != 0
    assert DENIED in output

    assert (await login(registry_stack, "idle", idle.username, idle.secret))[0] == 0
    code, output = await docker(registry_stack, "idle", "pull", name)
    assert code != 0
    assert DENIED in output
    code, output = await docker(registry_stack, "idle", "push", name)
    assert code != 0
    assert DENIED in output


async def test_anonymous_pulls_public_and_not_private(registry_stack: RegistryStack) -> None:
    alpha = await user(registry_stack, "alpha", "alpha")
    await plain.create(registry_stack.app[SESSIONMAKER], alpha.id, "alpha", "open", "public")
    assert (await login(registry_stack, "alpha", "alpha", alpha.password))[0] == 0
    await pushed(registry_stack, "alpha", "alpha/open:v1")
    await pushed(registry_stack, "alpha", "alpha/closed:v1")  # created private by the push

    for reference in ("alpha/open:v1", "alpha/closed:v1"):
        await asyncio.to_thread(registry_stack.forget, f"{registry_stack.registry}/{reference}")
    code, output = await docker(
        registry_stack, "anonymous", "pull", f"{registry_stack.registry}/alpha/open:v1"
    )
    assert code == 0, output
    code, output = await docker(
        registry_stack, "anonymous", "pull", f"{registry_stack.registry}/alpha/closed:v1"
    )
    assert code != 0
    assert "pull access denied" in output


@pytest.mark.parametrize("form", ["kid", "x5c"])
async def test_both_key_headers_are_accepted_by_the_registry(
    registry_stack: RegistryStack, form: HeaderForm
) -> None:
    # Distribution 2.8 finds the key by libtrust kid, 3.x by x5c: each alone must work.
    server = registry_stack.app[TOKEN_SERVER]
    settings = registry_stack.settings

    def token(key_form: HeaderForm, store_key: object = None) -> str:
        return mint(
            server.key if store_key is None else store_key,  # type: ignore[arg-type]
            issuer=settings.registry_token_issuer,
            service=settings.registry_service,
            subject="test",
            access=[Access("repository", "alpha/app", ("pull",))],
            lifetime=dt.timedelta(minutes=2),
            now=dt.datetime.now(dt.UTC),
            header_form=key_form,
        ).token

    url = f"http://{registry_stack.registry}/v2/alpha/app/tags/list"
    stranger = KeyStore(registry_stack.workdir / "other-keys", "buildsvc", dt.timedelta(0))
    forged = token(form, stranger.ensure())
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {token(form)}"}) as good:
            assert good.status == 404  # authorised; the repository just has no tags yet
            assert (await good.json())["errors"][0]["code"] == "NAME_UNKNOWN"
        async with http.get(url, headers={"Authorization": f"Bearer {forged}"}) as bad:
            assert bad.status == 401


async def test_tags_show_up_with_their_digest_and_the_audit_log(
    registry_stack: RegistryStack,
) -> None:
    alpha = await user(registry_stack, "alpha", "alpha")
    assert (await login(registry_stack, "alpha", "alpha", alpha.password))[0] == 0
    name = await asyncio.to_thread(registry_stack.image, "alpha/app:v1")
    code, output = await docker(registry_stack, "alpha", "push", name)
    assert code == 0, output
    digest = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
    assert digest is not None, output
    base = registry_stack.settings.public_url
    headers = {"Authorization": f"Bearer {alpha.api_token}"}
    async with aiohttp.ClientSession(base, headers=headers) as api:
        async with api.get("/api/v1/repositories") as listed:
            [repository] = (await listed.json())["items"]
        tags_url = f"/api/v1/repositories/{repository['id']}/tags"
        events_url = f"/api/v1/repositories/{repository['id']}/events"
        async with api.get(tags_url) as answer:
            body = await answer.json()
        assert body["reconciled"] is True
        assert [(t["name"], t["digest"]) for t in body["items"]] == [("v1", digest.group(1))]

        # The registry's notification arrives on its own: who pushed, from where.
        events: list[dict[str, object]] = []
        for _ in range(50):
            async with api.get(events_url) as answer:
                events = (await answer.json())["items"]
            if events:
                break
            await asyncio.sleep(0.2)
        [push] = [e for e in events if e["action"] == "push"]
        assert (push["actor"], push["tag"], push["digest"]) == ("alpha", "v1", digest.group(1))
        assert push["client_addr"] == "127.0.0.1"
        async with api.get(tags_url) as answer:
            [tag] = (await answer.json())["items"]
        assert tag["pushed_by"] == "alpha"

        async with api.delete(f"{tags_url}/v1") as answer:
            assert (answer.status, await answer.json()) == (200, {"deleted": ["v1"]})
        async with api.get(tags_url) as answer:
            assert (await answer.json())["items"] == []
    await asyncio.to_thread(registry_stack.forget, name)
    code, output = await docker(registry_stack, "alpha", "pull", name)
    assert code != 0
    assert "manifest unknown" in output
