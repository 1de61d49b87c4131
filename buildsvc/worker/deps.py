"""What one worker process holds for all its builds, made once at startup.

The docker client is shared (one connection pool to the engine, no per-build
handshake), and so are the database engine, the Redis pool (arq's own) and the forge
providers. ``running`` maps each build this process is working on to its handle, so a
cancel message can reach it. ``source_tree`` hands out a work tree kept for each
account's source repository (under ``<data_dir>/sources``; ``worker.source_trees``),
to one build at a time across every worker process sharing the data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from buildsvc.bindings.access import SourceAccess
from buildsvc.builds.outbox import ArqRedis
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.sources import build_providers
from buildsvc.store.engine import create_engine, create_sessionmaker, ping
from buildsvc.worker.registry_labels import registry_is_insecure
from buildsvc.worker.source_trees import hold_tree, tree_key
from buildsvc.worker.streaming import ENGINE_ERRORS

# Slack between our own per-build deadline and the transport/arq deadlines above it, so
# ours always fires first and ends the build in timed_out.
DEADLINE_SLACK_SECONDS = 120


def new_worker_id() -> str:
    """Unique per process, readable in the builds table: host:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class WorkerDeps:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    access: SourceAccess
    docker: docker.APIClient
    redis: ArqRedis | None
    worker_id: str
    workdir: Path
    running: dict[int, Callable[[], None]] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    # Build id -> its last commit status report (``worker.commit_status``: kept in order).
    status_reports: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    _insecure_registries: dict[str, bool] = field(default_factory=dict)
    _has_bridge: bool | None = None

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a best-effort background task, kept referenced until it ends."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    @property
    def sources(self) -> Path:
        return self.workdir.parent / "sources"

    @contextlib.asynccontextmanager
    async def source_tree(self, account_id: int, clone_url: str) -> AsyncIterator[Path]:
        """A work tree kept for this account's ``clone_url``, held until the block ends."""
        with hold_tree(self.sources, tree_key(account_id, clone_url)) as path:
            yield path

    async def registry_insecure(self, registry: str) -> bool:
        """Whether this worker's engine pushes to ``registry`` over plain HTTP (cached)."""
        if registry not in self._insecure_registries:
            info = await asyncio.to_thread(self.docker.info)
            self._insecure_registries[registry] = registry_is_insecure(info, registry)
        return self._insecure_registries[registry]

    async def engine_has_bridge(self) -> bool | None:
        """Whether this worker's engine has its bridge network (asked once; None while
        the engine does not answer: the build asks it, and reports its failure)."""
        if self._has_bridge is None:
            try:
                networks = await asyncio.to_thread(self.docker.networks, names=["bridge"])
            except ENGINE_ERRORS:
                return None
            self._has_bridge = bool(networks)
        return self._has_bridge


async def open_deps(settings: Settings, redis: ArqRedis | None) -> WorkerDeps:
    engine = create_engine(settings)
    await ping(engine)  # the first build should not pay for opening the connection
    sessionmaker = create_sessionmaker(engine)
    access = SourceAccess(
        sessionmaker, Cipher.from_settings(settings), build_providers(settings), settings
    )
    api = await asyncio.to_thread(
        docker.APIClient,
        base_url=settings.docker_url,
        version="auto",
        timeout=settings.build_timeout_seconds + DEADLINE_SLACK_SECONDS,
    )
    workdir = settings.data_dir / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    deps = WorkerDeps(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        access=access,
        docker=api,
        redis=redis,
        worker_id=new_worker_id(),
        workdir=workdir,
    )
    await deps.registry_insecure(settings.registry)  # asked once, not on the first build
    return deps


async def close_deps(deps: WorkerDeps) -> None:
    if deps.background:
        await asyncio.wait(deps.background, timeout=10)
    await asyncio.to_thread(deps.docker.close)
    await deps.engine.dispose()
