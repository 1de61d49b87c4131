"""Each preflight check against the real component, configured right and wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr
from pytest_aiohttp.plugin import AiohttpServer

from buildsvc.config import Settings
from buildsvc.preflight.checks import (
    check_database,
    check_docker,
    check_public_url,
    check_redis,
)
from buildsvc.preflight.registry_push import PREFLIGHT_NAMESPACE, check_registry
from buildsvc.preflight.result import safe_url
from buildsvc.registry.server import key_store
from buildsvc.store.migrate import head_revision, upgrade_database
from tests.common.servers import free_port
from tests.common.services import ensure_services
from tests.common.token_registry import token_registry


async def test_a_migrated_database_is_ok(settings: Settings) -> None:
    await upgrade_database(settings)

    check = await check_database(settings)

    assert check.ok, check.line()
    assert f"schema revision {head_revision()}" in check.line()


async def test_a_database_without_migrations_says_to_migrate(settings: Settings) -> None:
    check = await check_database(settings)

    assert not check.ok
    assert "buildsvc admin migrate" in check.line()
    assert (await check_database(settings, migrations=False)).ok  # reachable is enough


async def test_a_wrong_database_url_is_unreachable_and_hides_the_password(
    settings: Settings,
) -> None:
    url = f"postgresql+asyncpg://buildsvc:hunter2secret@127.0.0.1:{free_port()}/buildsvc"

    check = await check_database(settings.model_copy(update={"database_url": url}))

    assert not check.ok
    assert "not reachable" in check.line()
    assert "BUILDSVC_DATABASE_URL" in check.fix
    assert "hunter2secret" not in check.line()


async def test_redis_answers(settings: Settings) -> None:
    assert (await check_redis(settings)).ok


async def test_a_closed_redis_port_is_reported(settings: Settings) -> None:
    url = f"redis://:sekret-pass@127.0.0.1:{free_port()}/0"

    check = await check_redis(settings.model_copy(update={"redis_url": url}))

    assert not check.ok
    assert "Connect call failed" in check.line() or "refused" in check.line()
    assert "BUILDSVC_REDIS_URL" in check.fix
    assert "sekret-pass" not in check.line()


def test_safe_url_keeps_everything_but_the_password() -> None:
    assert safe_url("redis://u:p@h:1/2") == "redis://u:***@h:1/2"
    assert safe_url("redis://h:1/2") == "redis://h:1/2"


async def test_a_missing_docker_socket_is_reported(settings: Settings, tmp_path: object) -> None:
    url = f"unix://{tmp_path}/no-docker.sock"

    check = await check_docker(settings.model_copy(update={"docker_url": url}))

    assert not check.ok
    assert "No such file or directory" in check.line()
    assert "BUILDSVC_DOCKER_URL" in check.fix


@pytest.mark.e2e
async def test_the_docker_engine_answers(settings: Settings) -> None:
    check = await check_docker(
        settings.model_copy(update={"docker_url": ensure_services().docker_url})
    )

    assert check.ok, check.line()


@pytest.fixture
async def login_registry(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings with a configured login (an account of a token registry's own app that
    holds the preflight namespace), as for a registry without buildsvc's token auth."""
    async with token_registry(settings, tmp_path / "token-registry") as registry:
        login = await registry.owner(PREFLIGHT_NAMESPACE)
        yield registry.settings.model_copy(
            update={
                "registry_username": login.username,
                "registry_password": SecretStr(login.password),
                "docker_url": ensure_services().docker_url,
            }
        )


@pytest.mark.e2e
async def test_the_registry_login_works_and_push_is_allowed(login_registry: Settings) -> None:
    check = await check_registry(login_registry)

    assert check.ok, check.line()
    assert "may push" in check.line()


@pytest.mark.e2e
async def test_a_bad_registry_password_is_refused(login_registry: Settings) -> None:
    # After a good login: the check must not reuse a header remembered from it.
    await check_registry(login_registry)
    bad = login_registry.model_copy(update={"registry_password": SecretStr("not-the-password")})

    check = await check_registry(bad)

    assert not check.ok
    assert f"refuses the login of {login_registry.registry_username}" in check.line()
    assert "not-the-password" not in check.line()


def _token_settings(settings: Settings, key_dir: Path) -> Settings:
    services = ensure_services()
    return settings.model_copy(
        update={
            "registry": services.registry,
            "registry_key_dir": key_dir,
            "docker_url": services.docker_url,
        }
    )


@pytest.mark.e2e
async def test_a_token_buildsvc_signs_is_accepted_for_push(settings: Settings) -> None:
    check = await check_registry(_token_settings(settings, ensure_services().key_dir))

    assert check.ok, check.line()
    assert "a push token signed by buildsvc" in check.line()


@pytest.mark.e2e
async def test_a_key_the_registry_does_not_trust_is_refused_with_the_fix(
    settings: Settings, tmp_path: Path
) -> None:
    other = tmp_path / "other-keys"
    key_store(_token_settings(settings, other)).ensure()  # a key of its own, not trusted

    check = await check_registry(_token_settings(settings, other))

    assert not check.ok
    assert "refuses tokens signed by buildsvc" in check.line()
    assert f"rootcertbundle at {other}" in check.fix


async def test_a_registry_nobody_listens_on_is_unreachable(settings: Settings) -> None:
    registry = f"127.0.0.1:{free_port()}"

    check = await check_registry(settings.model_copy(update={"registry": registry}))

    assert not check.ok
    assert "not reachable" in check.line()
    assert "BUILDSVC_REGISTRY" in check.fix


async def test_a_token_auth_registry_passes_without_a_standing_login(
    settings: Settings, aiohttp_server: AiohttpServer
) -> None:
    # Distribution with buildsvc's token auth: builds log in as $build+<id>, so a worker
    # without BUILDSVC_REGISTRY_USERNAME follows the challenge to the token service.
    asked: list[str] = []

    async def challenge(request: web.Request) -> web.Response:
        realm = f"http://{request.host}/v2/token"
        header = f'Bearer realm="{realm}",service="registry.test"'
        return web.json_response({}, status=401, headers={"WWW-Authenticate": header})

    async def token(request: web.Request) -> web.Response:
        asked.append(request.query.get("service", ""))
        return web.json_response({"token": "anonymous", "expires_in": 300})

    app = web.Application()
    app.router.add_get("/v2/", challenge)
    app.router.add_get("/v2/token", token)
    server = await aiohttp_server(app)
    registry = f"127.0.0.1:{server.port}"
    plain = settings.model_copy(
        update={"registry": registry, "registry_username": None, "registry_password": None}
    )

    check = await check_registry(plain)

    assert check.ok, check.line()
    assert f"token auth at http://{registry}/v2/token" in check.line()
    assert asked == ["registry.test"]


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, status=request.app[STATUS])


STATUS = web.AppKey("status", int)


async def _serving(aiohttp_server: AiohttpServer, status: int) -> str:
    app = web.Application()
    app[STATUS] = status
    app.router.add_get("/healthz", _healthz)
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


async def test_a_public_url_that_answers_is_ok(
    settings: Settings, aiohttp_server: AiohttpServer
) -> None:
    url = await _serving(aiohttp_server, 200)

    check = await check_public_url(settings.model_copy(update={"public_url": url + "/"}))

    assert check.ok, check.line()


async def test_a_public_url_nobody_answers_is_reported(settings: Settings) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    check = await check_public_url(settings.model_copy(update={"public_url": url}))

    assert not check.ok
    assert "Connection refused" in check.line()
    assert "BUILDSVC_PUBLIC_URL" in check.fix


async def test_a_public_url_answering_unhealthy_is_reported(
    settings: Settings, aiohttp_server: AiohttpServer
) -> None:
    url = await _serving(aiohttp_server, 503)

    check = await check_public_url(settings.model_copy(update={"public_url": url}))

    assert not check.ok
    assert "answers 503" in check.line()
