"""A running buildsvc stack for tests that act as outside clients (CLI, browser, schemathesis).

- ``ServerThread(settings)``: ``create_app(settings)`` (plus the outbox sweeper) served on
  ``settings.public_url``'s port by an event loop in a thread of its own, so synchronous
  clients (click's CliRunner, selenium, schemathesis) can call it from the test thread.
  ``server.run(coro)`` runs a coroutine on the server's loop (to create an account or
  seed rows with the app's own sessionmaker).
- ``stack_settings(tmp, redis_db, registry=True)``: isolated settings on a free port,
  Redis db ``redis_db`` (flushed); with ``registry``, a registry address on a free port
  and no registry login: ``serve_registry(settings, dir)`` (``tests.common.token_registry``)
  starts a token-auth registry there whose realm is this stack's API, so each build
  logs in as itself and users with their own registry password.
- ``WorkerProcess(settings)``: ``python -m buildsvc worker`` with the same settings.
- ``push_example(forge, token, project, work)``: a real ``git push`` of a small image
  (``FROM buildsvc/busybox:latest``) to forgesim; ``dockerfile=`` overrides its Dockerfile.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import redis
import requests
from aiohttp import web
from yarl import URL

import forgesim
from buildsvc.accounts.services import create_account
from buildsvc.app import create_app
from buildsvc.builds.outbox import sweeper_ctx
from buildsvc.config import Settings
from buildsvc.web.keys import OUTBOX, SESSIONMAKER
from tests.common.servers import REDIS_URL, REPO_ROOT, free_port
from tests.common.services import ensure_services
from tests.conftest import IsolatedSettings

T = TypeVar("T")

EXAMPLE_DOCKERFILE = (
    "FROM buildsvc/busybox:latest\n"
    "COPY hello.sh /hello.sh\n"
    'RUN chmod 0755 /hello.sh && echo "built from the test"\n'
    'CMD ["/hello.sh"]\n'
)


def stack_settings(tmp: Path, redis_db: int, *, registry: bool = False) -> Settings:
    client = redis.Redis.from_url(f"{REDIS_URL}/{redis_db}")
    try:
        client.flushdb()
    finally:
        client.close()
    extra: dict[str, Any] = {}
    if registry:
        ensure_services()  # the Docker engine and the base image
        extra = {"registry": f"127.0.0.1:{free_port()}"}
    return IsolatedSettings(
        data_dir=(tmp / "var").resolve(),
        database_url=None,
        redis_url=f"{REDIS_URL}/{redis_db}",
        public_url=f"http://127.0.0.1:{free_port()}",
        allowed_source_networks=["127.0.0.0/8"],
        source_timeout_seconds=5.0,
        log_level="INFO",
        **extra,
    )


class ServerThread:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.public_url
        self.app = create_app(settings)
        self.app.cleanup_ctx.append(sweeper_ctx(OUTBOX, 0.2))
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app)
        self._thread = threading.Thread(target=self._loop.run_forever, name="buildsvc-api")

    def start(self) -> ServerThread:
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        port = URL(self.url).port
        await web.TCPSite(self._runner, "127.0.0.1", port).start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def create_account(self, name: str) -> str:
        """A new account's API token."""
        _account, token = self.run(create_account(self.app[SESSIONMAKER], name))
        return token

    def stop(self) -> None:
        try:
            self.run(self._runner.cleanup())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a ``buildsvc`` subprocess the same settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BUILDSVC_")}
    values: dict[str, Any] = settings.model_dump(exclude_none=True)
    for name, value in values.items():
        if name == "registry_password" and settings.registry_password is not None:
            value = settings.registry_password.get_secret_value()
        elif isinstance(value, list):
            value = json.dumps(value)
        env[f"BUILDSVC_{name.upper()}"] = str(value)
    return env


class WorkerProcess:
    """``python -m buildsvc worker`` on the stack's settings; stopped with SIGTERM."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "buildsvc", "worker"],
            cwd=log_path.parent,  # no stray .env
            env=settings_env(settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Alice",
        "GIT_AUTHOR_EMAIL": "alice@example.test",
        "GIT_COMMITTER_NAME": "Alice",
        "GIT_COMMITTER_EMAIL": "alice@example.test",
        "GIT_TERMINAL_PROMPT": "0",
    }
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def push_example(
    forge: forgesim.Forge,
    token: str,
    project: str,
    work: Path,
    *,
    branch: str = "main",
    dockerfile: str = EXAMPLE_DOCKERFILE,
    message: str = "Build me",
) -> str:
    """Commit a small image's source on ``branch`` and push it; the commit sha."""
    if not (work / ".git").exists():
        work.mkdir(parents=True, exist_ok=True)
        _git(work, "init", "-q", "-b", branch)
        _git(work, "remote", "add", "origin", forge.git_url_with_token(project, token))
    _git(work, "checkout", "-q", "-B", branch)
    (work / "Dockerfile").write_text(dockerfile)
    (work / "hello.sh").write_text(f"#!/bin/sh\necho 'Hello from {project}'\n")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "--allow-empty", "-m", message)
    _git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return _git(work, "rev-parse", "HEAD")


__all__ = [
    "REPO_ROOT",
    "ServerThread",
    "WorkerProcess",
    "healthy",
    "push_example",
    "settings_env",
    "stack_settings",
    "wait_for",
]
