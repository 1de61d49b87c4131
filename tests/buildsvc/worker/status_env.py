"""Commit statuses as the forge sees them, for the claim and reaper tests."""

from __future__ import annotations

import asyncio

from tests.buildsvc.worker.run_env import RunEnv
from tests.common.forge_env import ForgeEnv

NAME = "buildsvc/buildsvc-test/app:latest (branch main)"


def forge_view(env: RunEnv) -> ForgeEnv:
    return ForgeEnv("gitlab", env.forge, "alice", env.token, "acme", "acme/app")


async def settled(env: RunEnv) -> None:
    """Wait for the worker's background reports (commit statuses) to end."""
    if env.deps.background:
        await asyncio.wait(env.deps.background, timeout=15)


def page(env: RunEnv, build_id: int) -> str:
    return f"{env.settings.public_url.rstrip('/')}/console/builds/{build_id}"
