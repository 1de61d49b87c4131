"""Registry notifications: the audit log and the tags they keep current.

Distribution POSTs ``{"events": [...]}`` (media type
``application/vnd.docker.distribution.events.v1+json``) to ``/registry/events`` with the
Authorization header of its config (``config.events_secret``). Each manifest push, pull
and delete is recorded once (the registry's event id dedupes redeliveries) with actor,
client address, digest and tag; blob events are not (a push sends one per layer). A
push with a tag sets that tag's digest; a pull stamps ``last_pulled_at``; a manifest
delete removes the tags that pointed at it. The registry queues events in memory only,
so ``tags.reconcile`` also reads its tags API.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.registry_login import LOGIN_PREFIX
from buildsvc.errors import InvalidInput, Unauthenticated
from buildsvc.notifications import Event as Notice
from buildsvc.notifications import emit
from buildsvc.registry import namespaces, plain
from buildsvc.registry.names import split_repository
from buildsvc.store.models import RegistryEvent, RegistryTag, utcnow

MANIFEST_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
ACTIONS = frozenset({"push", "pull", "delete"})


class _Target(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    media_type: str | None = Field(default=None, alias="mediaType")
    digest: str | None = None
    size: int | None = None
    repository: str = ""
    tag: str | None = None


class _Request(BaseModel):
    addr: str | None = None


class _Actor(BaseModel):
    name: str | None = None


class Event(BaseModel):
    id: str
    timestamp: dt.datetime | None = None
    action: str
    target: _Target
    request: _Request = Field(default_factory=_Request)
    actor: _Actor = Field(default_factory=_Actor)


class Envelope(BaseModel):
    events: list[Event]


@dataclass(frozen=True, slots=True)
class Recorded:
    received: int
    recorded: int


def check_secret(authorization: str | None, secret: str) -> None:
    if not hmac.compare_digest((authorization or "").encode(), f"Bearer {secret}".encode()):
        raise Unauthenticated(detail="registry notifications carry the configured secret")


def parse(body: bytes) -> list[Event]:
    try:
        return Envelope.model_validate_json(body).events
    except ValidationError as exc:
        raise InvalidInput(detail="not a registry notification envelope") from exc


def _recordable(event: Event) -> bool:
    if event.action not in ACTIONS:
        return False
    if event.action == "delete":
        return True  # deletes name a digest only
    return event.target.media_type in MANIFEST_TYPES


def _client(addr: str | None) -> str | None:
    if not addr:
        return None
    host, sep, port = addr.rpartition(":")
    return (host if sep and port.isdigit() else addr).strip("[]")[:64]


async def _repository_id(session: AsyncSession, name: str) -> int | None:
    parts = split_repository(name)
    if parts is None:
        return None
    namespace = await namespaces.find(session, parts[0])
    if namespace is None:
        return None
    repository = await plain.find_owned(session, namespace.account_id, parts[0], parts[1])
    return None if repository is None else repository.id


async def record(
    sessionmaker: async_sessionmaker[AsyncSession], events: Sequence[Event]
) -> Recorded:
    recorded = 0
    for event in events:
        if not _recordable(event):
            continue
        try:
            async with sessionmaker.begin() as session:
                await _record_one(session, event)
            recorded += 1
        except IntegrityError:
            continue  # redelivered: recorded before
    return Recorded(len(events), recorded)


async def _record_one(session: AsyncSession, event: Event) -> None:
    target = event.target
    when = event.timestamp or utcnow()
    repository_id = await _repository_id(session, target.repository)
    session.add(
        RegistryEvent(
            event_id=event.id[:64],
            repository_id=repository_id,
            repository=target.repository[:512],
            action=event.action,
            actor=(event.actor.name or "")[:255] or None,
            client_addr=_client(event.request.addr),
            digest=target.digest,
            tag=target.tag,
            media_type=target.media_type,
            size=target.size,
            occurred_at=when,
        )
    )
    await session.flush()  # the unique event id: a redelivery stops here
    if repository_id is None or target.digest is None:
        return
    if event.action == "push" and target.tag:
        await upsert_tag(
            session, repository_id, target.tag, target.digest, target.size, when, event.actor.name
        )
        # A build's own push is announced by the build (with its build); any other one,
        # a `docker push` or a robot's, is announced here.
        if not (event.actor.name or "").startswith(LOGIN_PREFIX):
            data = _notice_data(repository_id, target.repository, target.tag, target.digest)
            await emit(session, repository_id, Notice.IMAGE_PUSHED, data, now=when)
    elif event.action == "pull":
        match = (
            RegistryTag.name == target.tag if target.tag else RegistryTag.digest == target.digest
        )
        await session.execute(
            update(RegistryTag)
            .where(RegistryTag.repository_id == repository_id, match)
            .values(last_pulled_at=when)
        )
    elif event.action == "delete":
        deleted = await session.scalars(
            delete(RegistryTag)
            .where(RegistryTag.repository_id == repository_id, RegistryTag.digest == target.digest)
            .returning(RegistryTag.name)
        )
        for tag in deleted.all():
            data = _notice_data(repository_id, target.repository, tag, target.digest)
            await emit(session, repository_id, Notice.TAG_DELETED, data, now=when)


def _notice_data(repository_id: int, repository: str, tag: str, digest: str) -> dict[str, object]:
    namespace, _, name = repository.partition("/")
    return {
        "repository": {"id": repository_id, "namespace": namespace, "name": name},
        "tag": tag,
        "digest": digest,
    }


async def upsert_tag(
    session: AsyncSession,
    repository_id: int,
    name: str,
    digest: str,
    size: int | None,
    pushed_at: dt.datetime | None,
    pushed_by: str | None,
) -> None:
    tag = (
        await session.execute(
            select(RegistryTag).where(
                RegistryTag.repository_id == repository_id, RegistryTag.name == name
            )
        )
    ).scalar_one_or_none()
    if tag is None:
        tag = RegistryTag(repository_id=repository_id, name=name[:128], digest=digest)
        session.add(tag)
    if tag.digest != digest or tag.pushed_at is None or pushed_by is not None:
        tag.digest = digest
        tag.size = size if size is not None else tag.size
        tag.pushed_at = pushed_at or tag.pushed_at
        tag.pushed_by = pushed_by[:255] if pushed_by else tag.pushed_by
