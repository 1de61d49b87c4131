"""A forgesim GitLab with a user, a group and a project, and the service wired to it.

Import the fixtures a test module needs (pytest finds them as module attributes)::

    from tests.common.gitlab_env import forge_fixture, gitlab_fixture  # noqa: F401

- ``forge``: forgesim GitLab, running for the test.
- ``gitlab``: ``GitLabEnv`` — user ``alice`` (token with ``api``), group ``acme`` where
  she is maintainer, project ``acme/app`` (default branch ``main``).
- ``settings`` (override): the conftest settings with ``public_url`` on a free port the
  test server then listens on (so forgesim can deliver webhooks to it) and the Redis db
  named by the module's ``REDIS_DB`` (flushed).
- ``client`` (override): the test client on that port, with the outbox sweeper running.

Helpers: ``bind``, ``link`` (create an image repository), ``git_push``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from yarl import URL

import forgesim
from buildsvc.builds.outbox import sweeper_ctx
from buildsvc.config import Settings
from buildsvc.web.keys import OUTBOX
from tests.common.servers import TEST_REDIS_DB, flush_redis_db, free_port

Client = TestClient[Any, Any]


@dataclass(frozen=True)
class GitLabEnv:
    forge: forgesim.Forge
    username: str
    token: str
    namespace: str
    project: str  # full path

    def bind_body(self, **changes: Any) -> dict[str, Any]:
        body = {
            "provider": "gitlab",
            "url": self.forge.url,
            "username": self.username,
            "token": self.token,
        }
        body.update(changes)
        return body


@pytest.fixture(name="forge")
def forge_fixture(tmp_path: Path) -> Iterator[forgesim.Forge]:
    with forgesim.running("gitlab", tmp_path / "forge") as forge:
        yield forge


@pytest.fixture(name="gitlab")
def gitlab_fixture(forge: forgesim.Forge) -> GitLabEnv:
    forge.admin.create_user("alice")
    token = forge.admin.create_token("alice", ["api"])
    forge.admin.create_namespace("acme", members={"alice": "maintainer"})
    forge.admin.create_repository("acme", "app")
    return GitLabEnv(forge, "alice", token, "acme", "acme/app")


@pytest.fixture(name="settings")
async def served_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    db = getattr(request.module, "REDIS_DB", TEST_REDIS_DB)
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{db}"
    await flush_redis_db(redis_url)
    return settings.model_copy(
        update={"public_url": f"http://127.0.0.1:{free_port()}", "redis_url": redis_url}
    )


def with_outbox(app: web.Application, interval: float = 0.2) -> web.Application:
    names = [getattr(ctx, "__qualname__", "") for ctx in app.cleanup_ctx]
    if not any("sweeper" in name for name in names):
        app.cleanup_ctx.append(sweeper_ctx(OUTBOX, interval))
    return app


@pytest.fixture(name="client")
async def served_client(app: web.Application, settings: Settings, aiohttp_client: Any) -> Client:
    # aiohttp_client last: set up after (so torn down before) the database the app uses.
    port = URL(settings.public_url).port
    client: Client = await aiohttp_client(with_outbox(app), server_kwargs={"port": port})
    return client


async def bind(client: Client, headers: dict[str, str], gitlab: GitLabEnv) -> dict[str, Any]:
    response = await client.post("/api/v1/sources", json=gitlab.bind_body(), headers=headers)
    body: dict[str, Any] = await response.json()
    assert response.status == 201, body
    return body


async def link(
    client: Client,
    headers: dict[str, str],
    gitlab: GitLabEnv,
    name: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "namespace": "team",
        "name": name or f"app-{secrets.token_hex(3)}",
        "source": {"provider": "gitlab", "repository": gitlab.project},
    }
    spec.update(fields)
    response = await client.post("/api/v1/repositories", json=spec, headers=headers)
    body: dict[str, Any] = await response.json()
    assert response.status == 201, body
    return body


async def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Alice",
        "GIT_AUTHOR_EMAIL": "alice@example.test",
        "GIT_COMMITTER_NAME": "Alice",
        "GIT_COMMITTER_EMAIL": "alice@example.test",
        "GIT_TERMINAL_PROMPT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode().strip()


async def git_push(
    gitlab: GitLabEnv,
    work: Path,
    *,
    branch: str = "main",
    message: str = "Change things",
    tag: str | None = None,
    delete: bool = False,
) -> str:
    """Commit a change on ``branch`` in ``work`` (cloned on first use) and push it.

    ``tag`` pushes a tag at that commit too; ``delete`` deletes ``branch`` instead.
    Returns the commit sha pushed.
    """
    remote = gitlab.forge.git_url_with_token(gitlab.project, gitlab.token)
    if not await asyncio.to_thread((work / ".git").exists):
        await _git(work.parent, "init", "-q", "-b", branch, str(work))
        await _git(work, "remote", "add", "origin", remote)
    if delete:
        await _git(work, "push", "-q", "origin", f":refs/heads/{branch}")
        return ""
    await _git(work, "checkout", "-q", "-B", branch)
    content = f"FROM scratch\nLABEL change={secrets.token_hex(4)}\n"
    await asyncio.to_thread((work / "Dockerfile").write_text, content)
    await _git(work, "add", "-A")
    await _git(work, "commit", "-q", "-m", message)
    sha = await _git(work, "rev-parse", "HEAD")
    refs = [f"HEAD:refs/heads/{branch}"]
    if tag is not None:
        await _git(work, "tag", tag)
        refs.append(f"refs/tags/{tag}")
    await _git(work, "push", "-q", "origin", *refs)
    return sha
