"""A stored build with a log of numbered lines, for the log endpoints' tests."""

from __future__ import annotations

from buildsvc.web.keys import SESSIONMAKER
from buildsvc.worker.logs import BuildLog
from buildsvc.worker.masking import Masker
from tests.common.factories import AccountInfo, add_build, add_repository
from tests.common.gitlab_env import Client


async def new_build(client: Client, account: AccountInfo, status: str, lines: int) -> int:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
        build = await add_build(session, account.id, repository.id, status=status)
    async with BuildLog(client.app[SESSIONMAKER], None, build.id, Masker()) as writer:
        for n in range(1, lines + 1):
            writer.write(f"line {n}")
    return int(build.id)
