"""A token-auth registry for one test's app: what the services' registry is, made per test.

The stack's registry (``scripts/services.sh``) trusts one certificate bundle and sends
clients to one realm, the API at ``BUILDSVC_PUBLIC_URL``. A test's app has a database of
its own, so the logins it knows (accounts, robots, a running build's ``$build+<id>``)
mean nothing to that realm. So a test that pushes or pulls through the Docker engine
gets its own pair instead: its app served on a real port, and a real Distribution
registry started with the config ``buildsvc admin registry-config`` renders for those
settings (realm, issuer, service, the bundle under the test's data dir). Both start in
well under a second. The app runs on an event loop of its own, in a thread: the Docker
engine calls the realm while a test waits on a blocking docker or requests call.

``async with token_registry(settings, workdir) as reg`` yields ``reg.registry``
(``127.0.0.1:PORT``), ``reg.settings`` (``public_url`` and ``registry`` pointing at
the pair), ``reg.app``; ``await reg.owner(namespace)`` makes an account holding that
namespace with a registry password, as a user would through the API.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from buildsvc.accounts.services import create_account
from buildsvc.app import create_app
from buildsvc.config import Settings
from buildsvc.registry import namespaces
from buildsvc.registry.config import render
from buildsvc.registry.password import set_password
from buildsvc.web.keys import SESSIONMAKER
from tests.common.servers import free_port

START_SECONDS = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    account_id: int


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not listen on {port}:\n{log.read_text()}")


def start_registry(config: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """``docker-registry serve`` with ``config``; returns once it listens on ``port``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "registry.yml"
    path.write_text(config)
    log = workdir / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(path)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, process, log)
    except RuntimeError:
        stop_process(process)
        raise
    return process


def serve_registry(settings: Settings, workdir: Path) -> subprocess.Popen[bytes]:
    """A registry on ``settings.registry`` trusting ``settings``' keys, realm its
    ``public_url`` (the config ``buildsvc admin registry-config`` renders)."""
    port = int(settings.registry.rsplit(":", 1)[1])
    config = render(settings, settings.registry, workdir / "registry-storage")
    return start_registry(config, workdir, port)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class AppThread:
    """``app`` served on 127.0.0.1:``port`` by an event loop in a thread of its own."""

    def __init__(self, app: web.Application, port: int) -> None:
        self.app = app
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"app:{port}", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            raise
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_SECONDS * 3):
            raise RuntimeError(f"the app on port {self.port} did not start")
        if self._error is not None:
            raise RuntimeError(f"the app on port {self.port} failed to start") from self._error

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the app's loop (its engine belongs there)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))


@dataclass
class TokenRegistry:
    server: AppThread
    settings: Settings
    registry: str

    @property
    def app(self) -> web.Application:
        return self.server.app

    async def owner(self, namespace: str, name: str | None = None) -> Login:
        """A new account holding ``namespace``, with a registry password set."""
        return await self.server.call(self._owner(namespace, name))

    async def claim(self, login: Login, namespace: str) -> None:
        """Give ``login``'s account one more namespace."""
        sessionmaker = self.app[SESSIONMAKER]
        await self.server.call(namespaces.create(sessionmaker, login.account_id, namespace))

    async def _owner(self, namespace: str, name: str | None) -> Login:
        sessionmaker = self.app[SESSIONMAKER]
        account, _ = await create_account(sessionmaker, name or f"owner-{secrets.token_hex(4)}")
        password = "pw-" + secrets.token_urlsafe(18)
        await set_password(sessionmaker, account.id, password)
        await namespaces.create(sessionmaker, account.id, namespace)
        return Login(account.name, password, account.id)


@asynccontextmanager
async def token_registry(settings: Settings, workdir: Path) -> AsyncIterator[TokenRegistry]:
    """``settings``' app on a free port and a registry that trusts it (see module doc)."""
    api_port, registry_port = free_port(), free_port()
    registry = f"127.0.0.1:{registry_port}"
    settings = settings.model_copy(
        update={
            "public_url": f"http://127.0.0.1:{api_port}",
            "registry": registry,
            "registry_username": None,
            "registry_password": None,
            "registry_key_dir": None,
        }
    )
    server = AppThread(create_app(settings), api_port)
    await asyncio.to_thread(server.start)
    try:
        process = await asyncio.to_thread(serve_registry, settings, workdir)
        try:
            yield TokenRegistry(server, settings, registry)
        finally:
            await asyncio.to_thread(stop_process, process)
    finally:
        await asyncio.to_thread(server.stop)
