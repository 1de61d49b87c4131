"""Hook health: is our push hook still on the forge, enabled, delivering to us? Re-create it.

``inspect`` serves ``GET /api/v1/repositories/{id}``: the repository, its last recorded
delivery, and its hook as the forge has it now. The forge call is bounded by
``HOOK_CHECK_SECONDS`` and never fails the read: an unbound source, a refused token, a
slow or unreachable forge all become the hook's ``error`` (``exists`` None: unknown).

``recreate`` serves ``POST /api/v1/repositories/{id}/hook``: it deletes the hook we
stored (one already gone is fine), creates a new one with the repository's own hook URL
and secret (unchanged: webhook intake caches both per process), and stores the new id
only if the stored one is still the one replaced; a concurrent re-create wins and ours is
removed again. It also re-links a repository whose source was unbound and bound again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.bindings.access import SourceAccess, unprocessable
from buildsvc.errors import ServiceError, SourceError
from buildsvc.repositories import queries
from buildsvc.repositories.errors import HookChanged
from buildsvc.repositories.links import linked, source_link
from buildsvc.repositories.service import hook_url
from buildsvc.sources import SourceClient
from buildsvc.store.models import Delivery, ImageRepository, utcnow

log = logging.getLogger(__name__)

HOOK_CHECK_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class HookState:
    id: str | None
    exists: bool | None  # None: the forge could not tell us
    enabled: bool | None
    checked_at: dt.datetime
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    repository: ImageRepository
    hook: HookState
    last_delivery: Delivery | None


def _recreate_hint(repository: ImageRepository) -> str:
    return f"re-create it with POST /api/v1/repositories/{repository.id}/hook"


async def check_hook(access: SourceAccess, repository: ImageRepository) -> HookState:
    """The hook as the forge has it now; never raises for a forge failure."""
    hook_id, now = repository.forge_hook_id, utcnow()
    link = linked(repository)
    if link is None:
        return HookState(None, None, None, now, "a plain repository has no source and no hook")
    if hook_id is None:
        why = "no hook is linked (the code source was unbound); bind it again, then "
        return HookState(None, False, False, now, why + _recreate_hint(repository))
    try:
        async with asyncio.timeout(HOOK_CHECK_SECONDS):
            client = await access.client_for(repository.account_id, link.provider)
            hook = await client.get_hook(link.repository, hook_id)
    except TimeoutError:
        why = f"the forge did not answer within {HOOK_CHECK_SECONDS:g} s"
        return HookState(hook_id, None, None, now, why)
    except ServiceError as exc:
        return HookState(hook_id, None, None, now, f"{exc.code}: {exc.detail or exc.message}")
    if hook is None:
        why = "the hook no longer exists on the forge; "
        return HookState(hook_id, False, False, now, why + _recreate_hint(repository))
    expected = hook_url(access.settings.public_url, link.provider, link.hook_key)
    error = None
    if hook.url != expected:
        error = f"the hook delivers to {hook.url}, not to {expected}; {_recreate_hint(repository)}"
    elif not hook.enabled:
        error = f"the forge disabled the hook; {_recreate_hint(repository)}"
    return HookState(hook.id, True, hook.enabled, now, error)


async def last_delivery(
    sessionmaker: async_sessionmaker[AsyncSession], repository_id: int
) -> Delivery | None:
    statement = (
        select(Delivery)
        .where(Delivery.repository_id == repository_id)
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    async with sessionmaker() as session:
        return (await session.execute(statement)).scalar_one_or_none()


async def inspect(access: SourceAccess, account_id: int, repository_id: int) -> Inspection:
    repository = await queries.get_repository(access.sessionmaker, account_id, repository_id)
    hook, last = await asyncio.gather(
        check_hook(access, repository), last_delivery(access.sessionmaker, repository_id)
    )
    return Inspection(repository, hook, last)


async def recreate(access: SourceAccess, account_id: int, repository_id: int) -> Inspection:
    repository = await queries.get_repository(access.sessionmaker, account_id, repository_id)
    link = source_link(repository)
    client = await access.client_for(account_id, link.provider)
    full_path, old = link.repository, repository.forge_hook_id
    url = hook_url(access.settings.public_url, link.provider, link.hook_key)
    secret = access.cipher.decrypt(link.hook_secret_encrypted)
    try:
        if old is not None:
            await client.delete_hook(full_path, old)
        hook = await client.create_hook(full_path, url, secret)
    except SourceError as exc:
        raise unprocessable(exc) from exc
    same = (
        ImageRepository.forge_hook_id.is_(None)
        if old is None
        else (ImageRepository.forge_hook_id == old)
    )
    async with access.sessionmaker.begin() as session:
        result = await session.execute(
            update(ImageRepository)
            .where(
                ImageRepository.id == repository_id,
                ImageRepository.account_id == account_id,
                same,
            )
            .values(forge_hook_id=hook.id)
            .execution_options(synchronize_session=False)
        )
    if cast(CursorResult[Any], result).rowcount != 1:
        await asyncio.shield(_drop(client, full_path, hook.id))
        await queries.get_repository(access.sessionmaker, account_id, repository_id)  # 404?
        raise HookChanged(detail="another request replaced it first; read the repository again")
    repository.forge_hook_id = hook.id
    state = HookState(hook.id, True, hook.enabled, utcnow())
    return Inspection(repository, state, await last_delivery(access.sessionmaker, repository_id))


async def _drop(client: SourceClient, full_path: str, hook_id: str) -> None:
    try:
        await client.delete_hook(full_path, hook_id)
    except SourceError as exc:
        log.warning("could not remove hook %s of %s: %s", hook_id, full_path, exc)
