"""Shared fixtures for every test package.

Service under test
    ``settings``        a ``Settings`` isolated from the environment and ``.env``: data_dir
                        in tmp_path, the default SQLite database there, Redis db
                        ``TEST_REDIS_DB`` (flushed before each test). Change fields with
                        ``settings.model_copy(update={...})`` before building the app.
    ``app``             ``create_app(settings)``, not started.
    ``client``          an aiohttp ``TestClient`` on ``app`` (started: migrations applied,
                        every cleanup context entered). ``client.app`` is the application.
    ``make_account``    ``await make_account("name")`` -> ``AccountInfo(id, token)``; names
                        default to unique ones. Needs ``client`` (uses its database).
    ``account``         one ``AccountInfo`` (unpacks as ``account_id, token = account``).
    ``auth_headers``    ``{"Authorization": "Bearer <account's token>"}``.

Real backing services
    ``redis_url``       ``redis://127.0.0.1:6379/<TEST_REDIS_DB>``, flushed; starts Redis with
                        ``scripts/services.sh start`` once if it does not answer.
    ``own_redis``       a ``RedisServer`` of the test's own, running, on a free port: stop
                        and start it at will (it starts empty, as after a restart).
    ``postgres_url``    (session) a PostgreSQL 15 server started for the test session
                        (initdb + pg_ctl as user ``postgres``, free port, trust auth),
                        as ``postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres``.
    ``database_url``    parametrised over ``sqlite`` and ``postgresql``: a fresh, empty
                        database per test (a file in tmp_path, or ``CREATE DATABASE``).
                        ``settings_for(database_url)`` pairs it with ``settings``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from buildsvc.accounts.services import create_account
from buildsvc.app import create_app
from buildsvc.config import Settings
from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo
from tests.common.servers import (
    TEST_REDIS_DB,
    PostgresServer,
    RedisServer,
    create_postgres_database,
    drop_postgres_database,
    ensure_redis,
    flush_redis_db,
)

# Older name, kept for modules importing it from here; prefer
# ``from tests.common.factories import AccountInfo`` (a name pytest does not collect).
TestAccount = AccountInfo


class IsolatedSettings(Settings):
    """Settings from constructor arguments only: no BUILDSVC_* variables, no .env file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@pytest.fixture(scope="session")
def redis_server() -> str:
    """Redis on 127.0.0.1:6379 answering (started once per session if needed)."""
    return ensure_redis()


@pytest.fixture
async def redis_url(redis_server: str) -> str:
    url = f"{redis_server}/{TEST_REDIS_DB}"
    await flush_redis_db(url)
    return url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path: Any, redis_url: str) -> Settings:
    return IsolatedSettings(
        data_dir=tmp_path / "var",
        database_url=None,
        redis_url=redis_url,
        public_url="http://127.0.0.1:8080",
        allowed_source_networks=["127.0.0.0/8"],
        log_level="DEBUG",
    )


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]],
    app: web.Application,
) -> TestClient[Any, Any]:
    return await aiohttp_client(app)


@pytest.fixture
def make_account(
    client: TestClient[Any, Any],
) -> Callable[..., Awaitable[AccountInfo]]:
    async def make(name: str | None = None) -> AccountInfo:
        account, token = await create_account(
            client.app[SESSIONMAKER], name or f"acct-{secrets.token_hex(4)}"
        )
        return AccountInfo(account.id, token)

    return make


@pytest.fixture
async def account(make_account: Callable[..., Awaitable[AccountInfo]]) -> AccountInfo:
    return await make_account("alice")


@pytest.fixture
def auth_headers(account: AccountInfo) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    url = await create_postgres_database(server_url)
    try:
        yield url
    finally:
        await drop_postgres_database(server_url, url)


@pytest.fixture
def settings_for(settings: Settings) -> Callable[[str], Settings]:
    """``settings_for(database_url)``: the test settings pointed at that database."""

    def build(url: str) -> Settings:
        return settings.model_copy(update={"database_url": url})

    return build
