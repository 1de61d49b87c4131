"""Tags of an image repository, as recorded from notifications and as the registry has them.

``list_tags`` first reconciles with the registry's tags API (notifications are lost when
the registry restarts): a tag the registry has and we do not is added with the digest
its manifest answers; one we have and it does not is dropped. If the registry cannot be
reached, the recorded tags are answered as they are (``reconciled`` False).

``delete_tag`` deletes the tag's manifest by digest, as Distribution deletes: every tag
of that digest goes with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.registry import namespaces
from buildsvc.registry.errors import NoDeleteRight, RegistryUnreachable, TagNotFound
from buildsvc.registry.events import upsert_tag
from buildsvc.registry.server import TokenServer
from buildsvc.registry.tokens import Access
from buildsvc.repositories.queries import not_found
from buildsvc.store.models import ImageRepository, RegistryEvent, RegistryTag

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=5)
MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


@dataclass(frozen=True, slots=True)
class Tags:
    items: list[RegistryTag]
    reconciled: bool


class RegistryApi:
    """buildsvc's own calls to the registry, with tokens it signs for itself."""

    def __init__(self, server: TokenServer) -> None:
        self.server = server
        self.base = server.settings.registry_base_url.rstrip("/")

    def _headers(self, name: str, actions: tuple[str, ...]) -> dict[str, str]:
        token = self.server.service_token([Access("repository", name, actions)])
        return {"Authorization": f"Bearer {token}"}

    async def tags(self, name: str) -> list[str]:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as http,
            http.get(
                f"{self.base}/v2/{name}/tags/list", headers=self._headers(name, ("pull",))
            ) as answer,
        ):
            if answer.status == 404:
                return []
            answer.raise_for_status()
            body = await answer.json(content_type=None)
        return sorted(str(tag) for tag in body.get("tags") or [])

    async def digest(self, name: str, reference: str) -> tuple[str, int | None] | None:
        headers = {**self._headers(name, ("pull",)), "Accept": MANIFEST_ACCEPT}
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as http,
            http.head(f"{self.base}/v2/{name}/manifests/{reference}", headers=headers) as answer,
        ):
            if answer.status == 404:
                return None
            answer.raise_for_status()
            digest = answer.headers.get("Docker-Content-Digest")
            length = answer.headers.get("Content-Length")
        if not digest:
            return None
        return digest, int(length) if length and length.isdigit() else None

    async def delete_manifest(self, name: str, digest: str) -> None:
        headers = self._headers(name, ("delete",))
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as http,
            http.delete(f"{self.base}/v2/{name}/manifests/{digest}", headers=headers) as answer,
        ):
            if answer.status not in (202, 404):
                answer.raise_for_status()


async def _recorded(session: AsyncSession, repository_id: int) -> list[RegistryTag]:
    rows = await session.scalars(
        select(RegistryTag)
        .where(RegistryTag.repository_id == repository_id)
        .order_by(RegistryTag.name)
    )
    return list(rows.all())


async def _load(session: AsyncSession, account_id: int, repository_id: int) -> ImageRepository:
    repository = await session.get(ImageRepository, repository_id)
    if repository is None or repository.account_id != account_id:
        raise not_found(repository_id)
    return repository


async def reconcile(
    sessionmaker: async_sessionmaker[AsyncSession], api: RegistryApi, repository: ImageRepository
) -> None:
    name = f"{repository.namespace}/{repository.name}"
    present = await api.tags(name)
    async with sessionmaker() as session:
        known = {tag.name: tag.digest for tag in await _recorded(session, repository.id)}
    found: dict[str, tuple[str, int | None]] = {}
    for tag in present:
        if tag in known:
            continue
        answer = await api.digest(name, tag)
        if answer is not None:
            found[tag] = answer
    gone = set(known) - set(present)
    if not found and not gone:
        return
    async with sessionmaker.begin() as session:
        for tag, (digest, size) in found.items():
            await upsert_tag(session, repository.id, tag, digest, size, None, None)
        if gone:
            await session.execute(
                delete(RegistryTag).where(
                    RegistryTag.repository_id == repository.id, RegistryTag.name.in_(gone)
                )
            )


async def list_tags(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: RegistryApi,
    account_id: int,
    repository_id: int,
) -> Tags:
    async with sessionmaker() as session:
        repository = await _load(session, account_id, repository_id)
    reconciled = True
    try:
        await reconcile(sessionmaker, api, repository)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("tags of %s not reconciled: %s", repository_id, type(exc).__name__)
        reconciled = False
    async with sessionmaker() as session:
        return Tags(await _recorded(session, repository_id), reconciled)


async def delete_tag(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: RegistryApi,
    account_id: int,
    repository_id: int,
    tag: str,
) -> list[str]:
    """Delete ``tag``'s manifest; the names of every tag that went with it."""
    async with sessionmaker() as session:
        repository = await _load(session, account_id, repository_id)
        held = await namespaces.find(session, repository.namespace)
    if held is None or held.account_id != account_id:
        raise NoDeleteRight(detail=f"another account holds namespace {repository.namespace}")
    name = f"{repository.namespace}/{repository.name}"
    try:
        answer = await api.digest(name, tag)
        if answer is None:
            raise TagNotFound(detail=f"{name}:{tag}")
        # Named before the delete: the registry's delete event may drop the rows first.
        async with sessionmaker() as session:
            same = await session.scalars(
                select(RegistryTag.name).where(
                    RegistryTag.repository_id == repository_id, RegistryTag.digest == answer[0]
                )
            )
            names = set(same.all())
        await api.delete_manifest(name, answer[0])
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RegistryUnreachable(detail=type(exc).__name__) from exc
    async with sessionmaker.begin() as session:
        removed = await session.scalars(
            delete(RegistryTag)
            .where(RegistryTag.repository_id == repository_id, RegistryTag.digest == answer[0])
            .returning(RegistryTag.name)
        )
        return sorted(names | set(removed.all()) | {tag})


async def list_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    repository_id: int,
    *,
    offset: int,
    limit: int,
) -> tuple[Sequence[RegistryEvent], int]:
    async with sessionmaker() as session:
        await _load(session, account_id, repository_id)
        where = RegistryEvent.repository_id == repository_id
        total = await session.scalar(select(func.count(RegistryEvent.id)).where(where))
        rows = await session.scalars(
            select(RegistryEvent)
            .where(where)
            .order_by(RegistryEvent.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)
