"""Replication rules of an image repository (or its namespace), and their status rows.

Every query is scoped by account: another account's rule or repository is not found.
A rule made with ``scope: namespace`` covers every repository of the account in that
namespace; it is listed, changed and deleted through any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from buildsvc.crypto import Cipher
from buildsvc.replication.errors import (
    DestinationNotAllowed,
    InvalidReplicationRule,
    ReplicationRuleNotFound,
)
from buildsvc.replication.schemas import (
    ReplicationRuleIn,
    ReplicationRulePatch,
    check_destination_url,
    check_rule,
)
from buildsvc.repositories import queries as repository_queries
from buildsvc.sources import AddressPolicy, ForbiddenAddress, resolve_checked
from buildsvc.store.models import Build, ImageRepository, Replication, ReplicationRule

__all__ = [
    "applying_to",
    "create_rule",
    "delete_rule",
    "get_rule",
    "list_replications",
    "list_rules",
    "replications_of_build",
    "update_rule",
]

Sessions = async_sessionmaker[AsyncSession]


def applying_to(repo: ImageRepository) -> ColumnElement[bool]:
    """Rules that cover ``repo``: its own, and its namespace's."""
    return and_(
        ReplicationRule.account_id == repo.account_id,
        or_(
            ReplicationRule.repository_id == repo.id,
            and_(
                ReplicationRule.scope == "namespace",
                ReplicationRule.namespace == repo.namespace,
            ),
        ),
    )


async def check_address(url: str, policy: AddressPolicy) -> None:
    """Refuse a destination whose host resolves into a network the service may not reach."""
    parts = urlsplit(url)
    name = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        await asyncio.to_thread(resolve_checked, name, port, policy)
    except ForbiddenAddress as exc:
        raise DestinationNotAllowed(detail=str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise InvalidReplicationRule(detail=f"destination_url: {name} does not resolve") from exc


async def create_rule(
    sessions: Sessions,
    cipher: Cipher,
    policy: AddressPolicy,
    account_id: int,
    repository_id: int,
    spec: ReplicationRuleIn,
) -> ReplicationRule:
    url = check_destination_url(spec.destination_url)
    check_rule(spec.destination_namespace, spec.name_template, spec.tag_filter, spec.ca_cert)
    await check_address(url, policy)
    async with sessions.begin() as session:
        repo = await repository_queries.load(session, account_id, repository_id)
        rule = ReplicationRule(
            account_id=account_id,
            repository_id=repo.id,
            scope=spec.scope,
            namespace=repo.namespace,
            destination_url=url,
            username=spec.username,
            password_encrypted=cipher.encrypt(spec.password) if spec.password else None,
            ca_cert=spec.ca_cert or None,
            destination_namespace=spec.destination_namespace.strip("/"),
            name_template=spec.name_template,
            tag_filter=spec.tag_filter,
            trigger=spec.trigger,
            enabled=spec.enabled,
        )
        session.add(rule)
    return rule


async def list_rules(
    sessions: Sessions, account_id: int, repository_id: int
) -> Sequence[ReplicationRule]:
    async with sessions() as session:
        repo = await repository_queries.load(session, account_id, repository_id)
        found = await session.scalars(
            select(ReplicationRule).where(applying_to(repo)).order_by(ReplicationRule.id)
        )
        return found.all()


async def _load(
    session: AsyncSession, account_id: int, repository_id: int, rule_id: int
) -> ReplicationRule:
    repo = await repository_queries.load(session, account_id, repository_id)
    rule = await session.scalar(
        select(ReplicationRule).where(applying_to(repo), ReplicationRule.id == rule_id)
    )
    if rule is None:
        raise ReplicationRuleNotFound(detail=f"replication rule {rule_id}")
    return rule


async def get_rule(
    sessions: Sessions, account_id: int, repository_id: int, rule_id: int
) -> ReplicationRule:
    async with sessions() as session:
        return await _load(session, account_id, repository_id, rule_id)


async def update_rule(
    sessions: Sessions,
    cipher: Cipher,
    policy: AddressPolicy,
    account_id: int,
    repository_id: int,
    rule_id: int,
    patch: ReplicationRulePatch,
) -> ReplicationRule:
    changes = patch.model_dump(exclude_unset=True)
    if "destination_url" in changes:
        changes["destination_url"] = check_destination_url(changes["destination_url"] or "")
        await check_address(changes["destination_url"], policy)
    async with sessions.begin() as session:
        rule = await _load(session, account_id, repository_id, rule_id)
        if "password" in changes:
            password = changes.pop("password")
            rule.password_encrypted = cipher.encrypt(password) if password else None
        for name, value in changes.items():
            setattr(rule, name, value)
        check_rule(rule.destination_namespace, rule.name_template, rule.tag_filter, rule.ca_cert)
    return rule


async def delete_rule(
    sessions: Sessions, account_id: int, repository_id: int, rule_id: int
) -> None:
    async with sessions.begin() as session:
        await session.delete(await _load(session, account_id, repository_id, rule_id))


async def list_replications(
    sessions: Sessions, account_id: int, repository_id: int, *, offset: int, limit: int
) -> tuple[Sequence[Replication], int]:
    async with sessions() as session:
        repo = await repository_queries.load(session, account_id, repository_id)
        where = (Replication.account_id == account_id, Replication.repository_id == repo.id)
        total = await session.scalar(select(func.count()).select_from(Replication).where(*where))
        rows = await session.scalars(
            select(Replication)
            .where(*where)
            .order_by(Replication.tag, Replication.destination)
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)


async def replications_of_build(sessions: Sessions, build: Build) -> Sequence[Replication]:
    """Where a build's digest was (or is being) copied, by any rule and trigger."""
    if build.digest is None:
        return []
    async with sessions() as session:
        rows = await session.scalars(
            select(Replication)
            .where(
                Replication.account_id == build.account_id,
                Replication.repository_id == build.repository_id,
                Replication.digest == build.digest,
            )
            .order_by(Replication.destination)
        )
        return rows.all()
