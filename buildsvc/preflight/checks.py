"""One check per thing a buildsvc process depends on; each answers ok or a one-line problem.

A check never raises: whatever goes wrong (a refused connection, a timeout, a library's
own exception) becomes ``Check.problem``, with ``fix`` saying what to change. Blocking
clients (docker, requests) run in threads; every check has a deadline. The registry's
check is in ``registry_push``, the comparison of the processes' registry settings in
``registry_record``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import docker
import requests
from redis.asyncio import ConnectionPool
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from buildsvc.builds.outbox import ArqRedis
from buildsvc.config import Settings
from buildsvc.preflight.result import TIMEOUT_SECONDS, Check, root_cause, safe_url
from buildsvc.store.engine import create_engine
from buildsvc.store.migrate import head_revision


def _revision(connection: Connection) -> str | None:
    # Read directly rather than through Alembic, whose INFO lines would surround the
    # one line a failing startup prints.
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


async def check_database(settings: Settings, *, migrations: bool = True) -> Check:
    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    engine = create_engine(settings)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS * 2), engine.connect() as connection:
            revision = await connection.run_sync(_revision)
    except Exception as exc:  # every driver and network failure alike: not reachable
        return Check(
            "database",
            problem=f"{url} is not reachable ({root_cause(exc)})",
            fix="start the database server, or correct BUILDSVC_DATABASE_URL",
        )
    finally:
        await engine.dispose()
    head = head_revision()
    if migrations and revision != head:
        return Check(
            "database",
            problem=f"{url} is at schema revision {revision}, this version needs {head}",
            fix="run `buildsvc admin migrate` (serve and worker also migrate when they start)",
        )
    return Check("database", found=f"{url} reachable, schema revision {revision}")


def redis_client(settings: Settings) -> ArqRedis:
    """A short-lived connection (the service's own Redis type), closed by ``close_redis``."""
    pool = ConnectionPool.from_url(
        settings.redis_url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    return ArqRedis(connection_pool=pool)


async def close_redis(client: ArqRedis) -> None:
    await client.aclose()
    await client.connection_pool.disconnect()


async def check_redis(settings: Settings) -> Check:
    url = safe_url(settings.redis_url)
    client = redis_client(settings)
    try:
        await client.ping()
    except Exception as exc:  # refused, timeout, auth: Redis is not usable
        return Check(
            "redis",
            problem=f"{url} does not answer ({root_cause(exc)})",
            fix="start Redis, or correct BUILDSVC_REDIS_URL",
        )
    finally:
        await close_redis(client)
    return Check("redis", found=f"{url} answers")


def docker_info(settings: Settings) -> dict[str, Any]:
    if settings.docker_url.startswith("unix://"):
        # Reach the socket ourselves first: docker-py leaves the socket of a failed
        # connect unclosed (a ResourceWarning), and the OSError says it plainly.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(TIMEOUT_SECONDS)
            probe.connect(settings.docker_url.removeprefix("unix://"))
    client = docker.APIClient(base_url=settings.docker_url, version="auto", timeout=TIMEOUT_SECONDS)
    try:
        info: dict[str, Any] = client.info()
        return info
    finally:
        client.close()


async def check_docker(settings: Settings) -> Check:
    try:
        info = await asyncio.to_thread(docker_info, settings)
    except Exception as exc:  # docker, requests and socket errors: no engine there
        return Check(
            "docker",
            problem=f"no Docker engine answers at {settings.docker_url} ({root_cause(exc)})",
            fix="start dockerd next to this worker, or correct BUILDSVC_DOCKER_URL",
        )
    return Check("docker", found=f"engine {info.get('ServerVersion')} at {settings.docker_url}")


def _get_health(url: str) -> int:
    response = requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
    response.close()
    return response.status_code


async def check_public_url(settings: Settings) -> Check:
    url = settings.public_url.rstrip("/") + "/healthz"
    try:
        status = await asyncio.to_thread(_get_health, url)
    except requests.RequestException as exc:
        return Check(
            "public_url",
            problem=f"{url} does not answer ({root_cause(exc)})",
            fix="start the API / load balancer there, or set BUILDSVC_PUBLIC_URL to "
            "the address forges reach",
        )
    if status != 200:
        return Check(
            "public_url",
            problem=f"{url} answers {status}, not 200",
            fix="BUILDSVC_PUBLIC_URL must lead to buildsvc serve (see the load balancer)",
        )
    return Check("public_url", found=f"{url} answers 200")
