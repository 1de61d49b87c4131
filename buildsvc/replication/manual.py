"""A manual run of a rule: plan every existing tag of the repository that its filter
matches, with the digest the service's registry has for it now."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.outbox import ArqRedis
from buildsvc.config import Settings
from buildsvc.replication.connect import open_session
from buildsvc.replication.copy import ACCEPT
from buildsvc.replication.jobs import enqueue
from buildsvc.replication.plan import Planned, plan_tags
from buildsvc.replication.registry_api import RegistryClient
from buildsvc.replication.service import get_rule
from buildsvc.replication.source import source_endpoint
from buildsvc.repositories import queries as repository_queries

__all__ = ["RunResult", "run_rule"]

PAGE = 1000


@dataclass(frozen=True, slots=True)
class RunResult:
    planned: int  # tags the rule's filter matched
    queued: int  # of which jobs are on the queue (the rest stay pending: Redis was down)


async def run_rule(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    redis: ArqRedis | None,
    account_id: int,
    repository_id: int,
    rule_id: int,
) -> RunResult:
    planned = await _plan(sessions, settings, account_id, repository_id, rule_id)
    return RunResult(len(planned), await enqueue(redis, planned))


async def _plan(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    account_id: int,
    repository_id: int,
    rule_id: int,
) -> list[Planned]:
    rule = await get_rule(sessions, account_id, repository_id, rule_id)
    async with sessions() as session:
        repo = await repository_queries.load(session, account_id, repository_id)
    name = f"{repo.namespace}/{repo.name}"
    async with open_session(None, None) as http:
        client = RegistryClient(source_endpoint(settings), http)
        tagged = [(tag, await _digest(client, name, tag)) for tag in await _tags(client, name)]
    async with sessions.begin() as session:
        rule = await session.merge(rule)
        repo = await session.merge(repo)
        return await plan_tags(session, rule, repo, tagged)


async def _tags(client: RegistryClient, name: str) -> list[str]:
    """Every tag of ``name`` (none when the registry does not know it), page by page."""
    scopes = [f"repository:{name}:pull"]
    path: str | None = f"/v2/{name}/tags/list?n={PAGE}"
    tags: list[str] = []
    while path:
        response = await client.request("GET", path, scopes=scopes, allow=(404,))
        async with response:
            if response.status == 404:
                return []
            tags += (await response.json()).get("tags") or []
            link = response.headers.get("Link", "")
        path = link.split(";")[0].strip(" <>") if 'rel="next"' in link else None
    return sorted(tags)


async def _digest(client: RegistryClient, name: str, tag: str) -> str:
    response = await client.request(
        "HEAD",
        f"/v2/{name}/manifests/{tag}",
        scopes=[f"repository:{name}:pull"],
        headers={"Accept": ACCEPT},
    )
    response.release()
    return response.headers["Docker-Content-Digest"]
