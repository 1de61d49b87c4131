"""``Core``: what every handler reaches through ``request.app[CORE]``.

It binds one provider spec to the shared state, the webhook sender and the push
pipeline (receive-pack -> ref changes -> provider payloads -> background deliveries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from forgesim import pushes
from forgesim.delivery import WebhookSender
from forgesim.faults import FaultSet
from forgesim.models import Hook, Repository, User, now_iso
from forgesim.provider import ProviderSpec
from forgesim.state import State

log = logging.getLogger("forgesim")
SAVE_EVERY = 0.5  # seconds between state flushes while dirty (and on shutdown)


@dataclass(frozen=True)
class ForgeConfig:
    provider: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    tls_self_signed: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    delivery_timeout: float = 10.0


class Core:
    def __init__(self, config: ForgeConfig, spec: ProviderSpec, state: State) -> None:
        self.config = config
        self.spec = spec
        self.state = state
        self.base_url = ""  # set once the socket is bound: "http://127.0.0.1:PORT"
        self.sender = WebhookSender(state, spec, config.delivery_timeout)
        self.faults = FaultSet()
        self._tasks: set[asyncio.Task[None]] = set()
        self._push_locks: dict[int, asyncio.Lock] = {}
        self.options = {name: values[0] for name, values in spec.options.items()}
        for name, value in config.options.items():
            allowed = spec.options.get(name)
            if allowed is None or value not in allowed:
                raise ValueError(f"{spec.name} option {name}={value!r}; allowed: {spec.options}")
            self.options[name] = value

    @property
    def api_url(self) -> str:
        return self.base_url + self.spec.api_path

    def web_url(self, path: str = "") -> str:
        return f"{self.base_url}/{path}" if path else self.base_url

    def git_url(self, full_path: str) -> str:
        return f"{self.base_url}{self.spec.git_prefix}/{full_path}.git"

    def repo_dir(self, repo: Repository) -> Path:
        return self.state.repo_dir(repo)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background; shutdown cancels what is still running."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Return once no push is being received and no announcement or delivery is in
        flight (callers bound the wait with ``asyncio.timeout``).

        A receive-pack holds its repository's push lock from before git sees a byte of
        the answer until after the announcement is spawned (see ``githttp``), so once
        ``git push`` has returned, settling means every delivery of that push was
        recorded (or skipped).
        """
        while True:
            pending = {task for task in self._tasks if not task.done()}
            if pending:
                await asyncio.wait(pending, timeout=0.05)
            elif any(lock.locked() for lock in self._push_locks.values()):
                await asyncio.sleep(0.01)
            else:
                return

    def push_lock(self, repo: Repository) -> asyncio.Lock:
        """Serialises pushes per repository so ref snapshots attribute changes exactly."""
        return self._push_locks.setdefault(repo.id, asyncio.Lock())

    def pushed(
        self, repo: Repository, user: User, before: dict[str, str], after: dict[str, str]
    ) -> None:
        """Called after a successful receive-pack; the push does not wait for webhooks."""
        if before != after:
            repo.last_activity_at = now_iso()
            self.state.changed()
            # The hooks that exist when the push lands get it, whenever it is formatted.
            hooks = self.state.repo_hooks(repo)
            self.spawn(self._announce(repo, user, before, after, hooks))

    async def _announce(
        self,
        repo: Repository,
        user: User,
        before: dict[str, str],
        after: dict[str, str],
        hooks: list[Hook],
    ) -> None:
        try:
            changes = await pushes.ref_changes(self.repo_dir(repo), before, after)
            push = pushes.Push(repo, user, tuple(changes))
            for hook in hooks:
                for outgoing in self.spec.format_push(self, push, hook):
                    self.spawn(self.sender.deliver(hook, repo, outgoing))
        except Exception:
            log.exception("webhooks for a push to %s failed", repo.full_path)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: the HTTP session for deliveries and the periodic state flush."""
        await self.sender.start()
        flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        yield
        flusher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(flusher, *self._tasks, return_exceptions=True)
        await self.sender.close()
        self.state.save()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            if self.state.dirty:
                self.state.save()


CORE = web.AppKey("forgesim.core", Core)
