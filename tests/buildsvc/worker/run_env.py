"""A worker's world for ``run_build`` tests, in process: real forgesim, Docker, registry, Redis.

The registry is a token-auth one of the test's own (``tests.common.token_registry``): the worker
holds no registry password and logs in per build as ``$build+<id>``, which the test's
app checks at the registry's realm. ``env.services`` carries the account's own registry
login (reading images back, as its owner would).

``RunEnv`` holds the settings, the database (migrated), a ``WorkerDeps`` as the worker
builds it at startup, a bound GitLab account on forgesim with project ``acme/app``, and
an image repository row linked to it. ``env.push(files)`` commits and pushes source with
git; ``await env.add_build(sha, ...)`` inserts a queued build for it, frozen like intake
freezes one (secret build args encrypted); ``await env.run(build_id)`` runs the arq job
function the way arq calls it.

Use ``run_env_fixture`` (import it into the test module; it is named ``env``); the
module's ``REDIS_DB`` picks the Redis database (default 2), flushed per test.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import select

import forgesim
from buildsvc.builds.states import BuildStatus
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.registry import namespaces
from buildsvc.registry.password import set_password
from buildsvc.secret_args import encrypt_secrets
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import Build, BuildLogLine, SourceBinding
from buildsvc.worker.deps import WorkerDeps, close_deps, open_deps
from buildsvc.worker.run import DEPS, run_build
from tests.buildsvc.worker.helpers import untag_all
from tests.common.factories import add_account, add_repository
from tests.common.services import Services, ensure_services
from tests.common.token_registry import token_registry

HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello"
DEFAULT_REDIS_DB = 2


@dataclass
class RunEnv:
    settings: Settings
    deps: WorkerDeps
    redis: ArqRedis
    forge: forgesim.Forge
    services: Services
    token: str
    account_id: int
    repository_id: int
    image: str  # registry/namespace/name, unique per test
    work: Path

    @property
    def sessionmaker(self) -> Any:
        return self.deps.sessionmaker

    def push(self, files: Mapping[str, str] | Path, branch: str = "main") -> str:
        """Replace the tree with ``files`` (or a copy of a directory), commit and push."""
        for entry in self.work.iterdir():
            if entry.name != ".git":
                subprocess.run(["rm", "-rf", str(entry)], check=True)
        if isinstance(files, Path):
            subprocess.run(["cp", "-r", f"{files}/.", str(self.work)], check=True)
        else:
            for name, text in files.items():
                (self.work / name).parent.mkdir(parents=True, exist_ok=True)
                (self.work / name).write_text(text)
        basic = base64.b64encode(f"alice:{self.token}".encode()).decode()
        auth = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.forge.url}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
        git(self.work, "checkout", "-q", "-B", branch)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", "change")
        git(self.work, "push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}", env=auth)
        return git(self.work, "rev-parse", "HEAD")

    async def add_build(self, sha: str, *, ref: str = "refs/heads/main", **fields: Any) -> int:
        values: dict[str, Any] = {
            "trigger": "push",
            "ref": ref,
            "ref_type": "branch",
            "ref_name": ref.rsplit("/", 1)[-1],
            "commit_sha": sha,
            "tags": [f"{self.image}:latest"],
            "status": BuildStatus.QUEUED.value,
            "enqueued": True,
        }
        values.update(fields)
        # Secret values stored encrypted, as a rule holds them and intake copies them.
        values["build_args"] = encrypt_secrets(
            self.deps.access.cipher,
            values.get("build_args", {}),
            values.get("secret_build_args", []),
        )
        async with self.sessionmaker.begin() as session:
            build = Build(account_id=self.account_id, repository_id=self.repository_id, **values)
            session.add(build)
            await session.flush()
            return int(build.id)

    async def run(self, build_id: int) -> str:
        return await run_build({DEPS: self.deps, "redis": self.redis}, build_id)

    async def build(self, build_id: int) -> Build:
        async with self.sessionmaker() as session:
            found = await session.get(Build, build_id)
            assert found is not None
            return found

    async def log(self, build_id: int) -> list[tuple[int, str]]:
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(BuildLogLine.seq, BuildLogLine.line)
                .where(BuildLogLine.build_id == build_id)
                .order_by(BuildLogLine.seq)
            )
            return [(int(seq), str(line)) for seq, line in rows.all()]


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    identity = {
        "GIT_AUTHOR_NAME": "Alice",
        "GIT_AUTHOR_EMAIL": "alice@example.test",
        "GIT_COMMITTER_NAME": "Alice",
        "GIT_COMMITTER_EMAIL": "alice@example.test",
        "GIT_TERMINAL_PROMPT": "0",
    }
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **identity, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


TEST_NAMESPACE = "buildsvc-test"


async def make_env(
    settings: Settings, forge: forgesim.Forge, tmp_path: Path, redis_db: int
) -> RunEnv:
    """``settings`` are a token registry's (``registry`` and ``public_url`` set)."""
    stack = ensure_services()
    settings = settings.model_copy(
        update={
            "redis_url": f"{stack.redis_url}/{redis_db}",
            "registry_username": None,
            "registry_password": None,
            "docker_url": stack.docker_url,
        }
    )
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    await redis.flushdb()
    await upgrade_database(settings)
    deps = await open_deps(settings, redis)
    forge.admin.create_user("alice")
    token = forge.admin.create_token("alice", ["api"])
    forge.admin.create_namespace("acme", members={"alice": "maintainer"})
    project = forge.admin.create_repository("acme", "app")
    image = f"{settings.registry}/{TEST_NAMESPACE}/run-{secrets.token_hex(4)}"
    async with deps.sessionmaker.begin() as session:
        account = await add_account(session)
        await namespaces.claim(session, account.id, TEST_NAMESPACE)
        session.add(
            SourceBinding(
                account_id=account.id,
                provider="gitlab",
                url=forge.url,
                api_url=forge.api_url,
                api_version="v4",
                username="alice",
                forge_user_id="1",
                token_encrypted=Cipher.from_settings(settings).encrypt(token),
                token_last4=token[-4:],
            )
        )
        repository = await add_repository(
            session,
            account.id,
            namespace=TEST_NAMESPACE,
            name=image.rsplit("/", 1)[1],
            source_repository=project["full_path"],
            clone_url=project["clone_url"],
        )
    password = "pw-" + secrets.token_urlsafe(18)
    await set_password(deps.sessionmaker, account.id, password)
    services = Services(
        stack.docker_url, settings.registry, account.name, password, stack.redis_url
    )
    work = tmp_path / "checkout"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", project["clone_url"])
    return RunEnv(
        settings, deps, redis, forge, services, token, account.id, repository.id, image, work
    )


def remove_images(image: str) -> None:
    api = docker.APIClient(base_url=ensure_services().docker_url)
    try:
        untag_all(api, image)
    finally:
        api.close()


@pytest.fixture(name="env")
async def run_env_fixture(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[RunEnv]:
    redis_db = getattr(request.module, "REDIS_DB", DEFAULT_REDIS_DB)
    async with (
        token_registry(settings, tmp_path / "token-registry") as registry,
        forgesim.running("gitlab", tmp_path / "forge") as forge,
    ):
        env = await make_env(registry.settings, forge, tmp_path, redis_db)
        try:
            yield env
        finally:
            await close_deps(env.deps)
            await env.redis.aclose()
            remove_images(env.image)
