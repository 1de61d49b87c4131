"""One check per thing a buildsvc process depends on; each answers ok or a one-line problem.

A check never raises: whatever goes wrong (a refused connection, a timeout, a library's
own exception) becomes ``Check.problem``, with ``fix`` saying what to change. Blocking
clients (docker, requests) run in threads; every check has a deadline.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import docker
import requests
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from buildsvc.config import Settings
from buildsvc.store.engine import create_engine
from buildsvc.store.migrate import head_revision
from buildsvc.worker.errors import RegistryDenied, RegistryUnauthorized, RegistryUnavailable

# The worker's registry client: the same auth handshake (Basic, or a bearer token from
# the registry's token service) the worker's pushes go through.
from buildsvc.worker.registry_labels import (
    ImageRef,
    RegistryLogin,
    _Registry,
    registry_is_insecure,
)

TIMEOUT_SECONDS = 5.0
# Push is checked by opening a blob upload in this namespace and cancelling it: nothing
# is stored. A new repository name each time, because the worker's client remembers a
# header that worked per repository: the check must try the configured password.
PREFLIGHT_NAMESPACE = "buildsvc-preflight"
LOOPBACK_ONLY: dict[str, Any] = {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}}


@dataclass(frozen=True, slots=True)
class Check:
    item: str
    found: str = ""  # what was seen, when ok
    problem: str | None = None
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.problem is None:
            return f"ok    {self.item}: {self.found}"
        return f"FAIL  {self.item}: {self.problem} -- fix: {self.fix}"


def safe_url(url: str) -> str:
    """``url`` without its password (database and Redis URLs may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def _why(exc: BaseException) -> str:
    """The root cause, short: client libraries wrap "connection refused" several times."""
    root: BaseException = exc
    while (inner := root.__cause__ or root.__context__) is not None:
        root = inner
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    text = str(root).strip().splitlines()[0] if str(root).strip() else ""
    return f"{type(root).__name__}: {text}" if text else type(root).__name__


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
            problem=f"{url} is not reachable ({_why(exc)})",
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
            problem=f"{url} does not answer ({_why(exc)})",
            fix="start Redis, or correct BUILDSVC_REDIS_URL",
        )
    finally:
        await close_redis(client)
    return Check("redis", found=f"{url} answers")


def _docker_info(settings: Settings) -> dict[str, Any]:
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
        info = await asyncio.to_thread(_docker_info, settings)
    except Exception as exc:  # docker, requests and socket errors: no engine there
        return Check(
            "docker",
            problem=f"no Docker engine answers at {settings.docker_url} ({_why(exc)})",
            fix="start dockerd next to this worker, or correct BUILDSVC_DOCKER_URL",
        )
    return Check("docker", found=f"engine {info.get('ServerVersion')} at {settings.docker_url}")


def _try_push(settings: Settings) -> None:
    """Open a blob upload (what a push starts with), then cancel it."""
    try:
        info = _docker_info(settings)
    except Exception:  # no engine to ask: plain HTTP for loopback only, as the engine does
        info = LOOPBACK_ONLY
    login = None
    if settings.registry_username:
        password = settings.registry_password
        secret = password.get_secret_value() if password else ""
        login = RegistryLogin(settings.registry_username, secret)
    ref = ImageRef(settings.registry, f"{PREFLIGHT_NAMESPACE}/{secrets.token_hex(4)}", ())
    client = _Registry(
        ref,
        login,
        insecure=registry_is_insecure(info, settings.registry),
        timeout=TIMEOUT_SECONDS,
    )
    try:
        upload = client.request("POST", "blobs/uploads/")
        location = upload.headers.get("Location")
        if location:
            client.request("DELETE", location)
    finally:
        client.close()


async def check_registry(settings: Settings) -> Check:
    who = settings.registry_username or "anonymous"
    try:
        await asyncio.to_thread(_try_push, settings)
    except RegistryUnauthorized:
        return Check(
            "registry",
            problem=f"{settings.registry} refuses the login of {who}",
            fix="correct BUILDSVC_REGISTRY_USERNAME / BUILDSVC_REGISTRY_PASSWORD",
        )
    except RegistryDenied:
        return Check(
            "registry",
            problem=f"{settings.registry} accepts {who} but denies push",
            fix=f"give {who} push permission on the registry",
        )
    except (RegistryUnavailable, requests.RequestException) as exc:
        return Check(
            "registry",
            problem=f"{settings.registry} is not reachable ({_why(exc)})",
            fix="start the registry, or correct BUILDSVC_REGISTRY",
        )
    except Exception as exc:  # any other registry answer: push would fail the same way
        return Check(
            "registry",
            problem=f"{settings.registry} refused a push ({_why(exc)})",
            fix="check the registry's log and BUILDSVC_REGISTRY",
        )
    return Check("registry", found=f"{settings.registry}: {who} logs in and may push")


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
            problem=f"{url} does not answer ({_why(exc)})",
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
