"""Which tags go where: status rows for a push, or for a manual run over existing tags.

Planning a tag for a rule upserts its row (one per rule, repository and tag) as
``pending`` with the digest to copy and a new ``generation``; a job still busy with an
older generation of the row stops at its next step. The caller enqueues the returned
``Planned`` items (``jobs.enqueue``) after the rows are committed, so a job always finds
its row.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.replication.errors import InvalidReplicationRule
from buildsvc.replication.registry_api import Endpoint
from buildsvc.replication.schemas import render_repository, tag_matcher
from buildsvc.replication.service import applying_to
from buildsvc.store.engine import reading
from buildsvc.store.models import ImageRepository, Replication, ReplicationRule

__all__ = ["Planned", "has_push_rules", "plan_push", "plan_tags"]

Sessions = async_sessionmaker[AsyncSession]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Planned:
    replication_id: int
    generation: int
    job_token: str


async def _push_rules(session: AsyncSession, repository_id: int) -> list[ReplicationRule]:
    repo = await session.get(ImageRepository, repository_id)
    if repo is None:
        return []
    rules = await session.scalars(
        select(ReplicationRule).where(
            applying_to(repo), ReplicationRule.enabled, ReplicationRule.trigger == "push"
        )
    )
    return list(rules)


async def has_push_rules(sessions: Sessions, repository_id: int) -> bool:
    """Whether an enabled on-push rule covers the repository (read without the write
    lock: most repositories have none, and a build asks while it pushes)."""
    async with reading(sessions) as session:
        return bool(await _push_rules(session, repository_id))


def destination_of(rule: ReplicationRule, repo: ImageRepository, tag: str) -> str:
    host = Endpoint(rule.destination_url).host
    name = render_repository(
        rule.destination_namespace, rule.name_template, repo.namespace, repo.name
    )
    return f"{host}/{name}:{tag}"


async def plan_push(
    sessions: Sessions, repository_id: int, tags: Sequence[str], digest: str, build_id: int | None
) -> list[Planned]:
    """Rows for the tags a build pushed (bare tags), for every enabled on-push rule."""
    async with sessions.begin() as session:
        repo = await session.get(ImageRepository, repository_id)
        if repo is None:
            return []
        planned: list[Planned] = []
        for rule in await _push_rules(session, repository_id):
            try:
                matcher = tag_matcher(rule.tag_filter)
            except InvalidReplicationRule as exc:  # saved under other syntax: never fail a build
                log.warning("replication rule %d skipped: %s", rule.id, exc.detail)
                continue
            for tag in tags:
                if matcher.match(tag) is not None:
                    planned.append(await _upsert(session, rule, repo, tag, digest, build_id))
        return planned


async def plan_tags(
    session: AsyncSession,
    rule: ReplicationRule,
    repo: ImageRepository,
    tagged: Iterable[tuple[str, str]],
) -> list[Planned]:
    """Rows for existing ``(tag, digest)`` pairs that the rule's filter matches."""
    matcher = tag_matcher(rule.tag_filter)
    return [
        await _upsert(session, rule, repo, tag, digest, None)
        for tag, digest in tagged
        if matcher.match(tag) is not None
    ]


async def _upsert(
    session: AsyncSession,
    rule: ReplicationRule,
    repo: ImageRepository,
    tag: str,
    digest: str,
    build_id: int | None,
) -> Planned:
    row = await session.scalar(
        select(Replication)
        .where(
            Replication.rule_id == rule.id,
            Replication.repository_id == repo.id,
            Replication.tag == tag,
        )
        .with_for_update()
    )
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    origin = f"build {build_id}" if build_id is not None else "a manual run"
    if row is None:
        row = Replication(
            account_id=rule.account_id,
            rule_id=rule.id,
            repository_id=repo.id,
            tag=tag,
            generation=1,
        )
        session.add(row)
    else:
        row.generation += 1
    row.job_token = secrets.token_hex(8)
    row.build_id = build_id
    row.digest = digest
    row.destination = destination_of(rule, repo, tag)
    row.status = "pending"
    row.attempts = 0
    row.retry_at = None
    row.error_code = None
    row.error_detail = None
    row.log = [f"{when} planned {digest} by {origin}"]
    await session.flush()
    return Planned(row.id, row.generation, row.job_token)
