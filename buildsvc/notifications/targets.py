"""Notification targets of an image repository: create, read, change, delete, test.

Every function is scoped to an account: another account's repository or target is
"not found". A webhook's signing secret is generated here and answered once, on
creation; it and every target URL are stored encrypted (a Slack URL is its token).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.crypto import Cipher
from buildsvc.notifications.errors import TargetNotFound
from buildsvc.notifications.events import Event, delivery_rows
from buildsvc.notifications.http import check_url, display_url
from buildsvc.notifications.messages import new_secret
from buildsvc.notifications.schemas import NotificationCreate, NotificationPatch
from buildsvc.repositories import queries as repositories
from buildsvc.sources import AddressPolicy
from buildsvc.store.models import NotificationDelivery, NotificationTarget, utcnow

ABANDONED = "abandoned"  # pending when its target was disabled: never sent


@dataclass(frozen=True, slots=True)
class NotificationAccess:
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: Cipher
    policy: AddressPolicy


@dataclass(frozen=True, slots=True)
class Created:
    target: NotificationTarget
    secret: str | None  # the webhook's signing secret: shown this once


async def _load(
    session: AsyncSession, account_id: int, repository_id: int, target_id: int
) -> NotificationTarget:
    await repositories.load(session, account_id, repository_id)
    target = await session.get(NotificationTarget, target_id)
    if target is None or target.repository_id != repository_id:
        raise TargetNotFound(f"Notification target {target_id} not found.")
    return target


async def create(
    access: NotificationAccess, account_id: int, repository_id: int, spec: NotificationCreate
) -> Created:
    async with access.sessionmaker() as session:
        await repositories.load(session, account_id, repository_id)
    await check_url(spec.url, access.policy)
    secret = new_secret() if spec.kind == "webhook" else None
    target = NotificationTarget(
        repository_id=repository_id,
        kind=spec.kind,
        description=spec.description,
        url_encrypted=access.cipher.encrypt(spec.url),
        url_display=display_url(spec.url),
        secret_encrypted=access.cipher.encrypt(secret) if secret is not None else None,
        events=sorted(set(spec.events)),
        enabled=True,
    )
    async with access.sessionmaker.begin() as session:
        await repositories.load(session, account_id, repository_id)  # not deleted meanwhile
        session.add(target)
    return Created(target, secret)


async def list_targets(
    access: NotificationAccess, account_id: int, repository_id: int, *, offset: int, limit: int
) -> tuple[Sequence[NotificationTarget], int]:
    async with access.sessionmaker() as session:
        await repositories.load(session, account_id, repository_id)
        mine = NotificationTarget.repository_id == repository_id
        total = await session.scalar(select(func.count(NotificationTarget.id)).where(mine))
        statement = (
            select(NotificationTarget)
            .where(mine)
            .order_by(NotificationTarget.id)
            .offset(offset)
            .limit(limit)
        )
        return (await session.scalars(statement)).all(), int(total or 0)


async def get(
    access: NotificationAccess, account_id: int, repository_id: int, target_id: int
) -> NotificationTarget:
    async with access.sessionmaker() as session:
        return await _load(session, account_id, repository_id, target_id)


async def abandon_pending(session: AsyncSession, target_id: int, why: str) -> None:
    """A disabled target's unsent deliveries: never sent (it would deliver stale news)."""
    await session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.target_id == target_id, NotificationDelivery.state == "pending")
        .values(state=ABANDONED, error=why)
        .execution_options(synchronize_session=False)
    )


async def update_target(
    access: NotificationAccess,
    account_id: int,
    repository_id: int,
    target_id: int,
    patch: NotificationPatch,
) -> NotificationTarget:
    if patch.url is not None:
        await check_url(patch.url, access.policy)
    async with access.sessionmaker.begin() as session:
        target = await _load(session, account_id, repository_id, target_id)
        if patch.url is not None:
            target.url_encrypted = access.cipher.encrypt(patch.url)
            target.url_display = display_url(patch.url)
        if patch.description is not None:
            target.description = patch.description
        if patch.events is not None:
            target.events = sorted(set(patch.events))
        if patch.enabled is True and not target.enabled:
            target.enabled = True
            target.disabled_at = target.disabled_reason = target.failing_since = None
        elif patch.enabled is False and target.enabled:
            target.enabled = False
            target.disabled_at = utcnow()
            target.disabled_reason = "disabled by a user"
            await abandon_pending(session, target_id, "the target was disabled")
    return target


async def delete(
    access: NotificationAccess, account_id: int, repository_id: int, target_id: int
) -> None:
    async with access.sessionmaker.begin() as session:
        target = await _load(session, account_id, repository_id, target_id)
        await session.delete(target)


async def send_test(
    access: NotificationAccess, account_id: int, repository_id: int, target_id: int
) -> NotificationDelivery:
    """Queue a ``notification.test`` delivery to this target alone (sent by a worker, once,
    even while the target is disabled)."""
    async with access.sessionmaker.begin() as session:
        target = await _load(session, account_id, repository_id, target_id)
        repository = await repositories.load(session, account_id, repository_id)
        data = {
            "repository": {
                "id": repository.id,
                "namespace": repository.namespace,
                "name": repository.name,
            }
        }
        [row] = delivery_rows([(target.id, [])], [(Event.TEST, data)], None, utcnow())
        delivery = NotificationDelivery(**row)
        session.add(delivery)
    return delivery


async def deliveries(
    access: NotificationAccess,
    account_id: int,
    repository_id: int,
    target_id: int,
    *,
    offset: int,
    limit: int,
) -> tuple[Sequence[NotificationDelivery], int]:
    """A target's deliveries, newest first."""
    async with access.sessionmaker() as session:
        await _load(session, account_id, repository_id, target_id)
        mine = NotificationDelivery.target_id == target_id
        total = await session.scalar(select(func.count(NotificationDelivery.id)).where(mine))
        statement = (
            select(NotificationDelivery)
            .where(mine)
            .order_by(NotificationDelivery.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return (await session.scalars(statement)).all(), int(total or 0)
