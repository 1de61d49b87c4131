"""Webhook intake: one forge delivery becomes queued builds, or a recorded reason why not.

``receive`` runs the whole path: find the hook (404), read the body (the caller's reader
enforces the size limit: 413), verify it with the repository's secret (401, nothing
recorded), parse it (400 when malformed, ``INVALID_JSON`` when nested too deep; other
events are recorded as ignored; a Bitbucket Server push that would build has its commit
message read from the forge first: ``commit_lookup``), then in one transaction
(``store.fastpath.writer``) record the delivery and insert one queued ``Build`` per matching
rule, marking older still-queued builds of the same ref ``superseded``
(``intake_db.stage``: the deliveries of one write group are written together, as if one
after the other).
After the commit the builds are enqueued (``builds.outbox``); if Redis is down they stay
in the outbox and the delivery is still accepted. While Redis is reachable they are
committed as enqueued and only unmarked if their job does not make it
(``outbox.enqueue_recorded``): one write less per delivery.

A delivery id seen before for the repository answers what it answered then and creates
nothing: a unique constraint decides races between two copies arriving together.

A hook's key, repository id and secret never change, so they are cached per process
(bounded); everything that can change (rules, auto build, whether the repository still
exists) is read inside the transaction.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import webhooks
from buildsvc.builds.outbox import Outbox
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.errors import InvalidJson, NotFound
from buildsvc.intake import commit_lookup
from buildsvc.intake import db as intake_db
from buildsvc.intake.db import Parsed, Received
from buildsvc.intake.errors import (
    HookNotFound,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from buildsvc.sources import SourceProvider
from buildsvc.store.fastpath.writer import Writer
from buildsvc.store.models import ImageRepository, utcnow

PING = "ping received"
HOOK_CACHE_SIZE = 10_000
# Where forges put a delivery id, for deliveries the parser does not turn into events.
_DELIVERY_HEADERS = (
    "Idempotency-Key",
    "X-Gitlab-Event-UUID",
    "X-GitHub-Delivery",
    "X-Request-UUID",
    "X-Request-Id",
    "webhook-id",
)
_EVENT_HEADERS = ("X-Gitlab-Event", "X-GitHub-Event", "X-Event-Key")


@dataclass(frozen=True, slots=True)
class Hook:
    repository_id: int
    secret: str = ""


# The recently used hooks of one database (LRU, ``HOOK_CACHE_SIZE``): (provider, key) -> hook.
HookCache = OrderedDict[tuple[str, str], Hook]


@dataclass(frozen=True, slots=True)
class IntakeDeps:
    """What intake needs, made once per application (``app.py``'s ``_intake`` context)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    writer: Writer
    cipher: Cipher
    outbox: Outbox
    settings: Settings
    providers: dict[str, SourceProvider] = field(default_factory=dict)  # commit_lookup
    hooks: HookCache = field(default_factory=HookCache)


async def _hook(deps: IntakeDeps, provider: str, key: str) -> Hook:
    cache = deps.hooks
    found = cache.get((provider, key))
    if found is not None:
        cache.move_to_end((provider, key))
        return found
    async with deps.sessionmaker() as session:
        statement = select(ImageRepository.id, ImageRepository.hook_secret_encrypted).where(
            ImageRepository.hook_key == key, ImageRepository.provider == provider
        )
        row = (await session.execute(statement)).first()
    if row is None or row[1] is None:
        raise HookNotFound
    found = Hook(row[0], deps.cipher.decrypt(row[1]))
    cache[(provider, key)] = found
    if len(cache) > HOOK_CACHE_SIZE:
        cache.popitem(last=False)
    return found


async def receive(
    deps: IntakeDeps,
    provider: str,
    hook_key: str,
    headers: Mapping[str, str],
    read_body: Callable[[], Awaitable[bytes]],
) -> Received:
    hook = await _hook(deps, provider, hook_key)
    body = await read_body()
    try:
        webhooks.verify(provider, headers, body, hook.secret)
    except webhooks.WebhookError as exc:  # a SignatureError: a stored hook's forge is known
        raise WebhookSignatureInvalid(detail=exc.message) from exc
    parsed = _parse(provider, headers, body)
    if provider in commit_lookup.MESSAGELESS:  # its payloads may lack the commit message
        parsed = await commit_lookup.complete(deps, hook.repository_id, parsed)
    # Redis reachable: the builds are committed as enqueued, their jobs sent right after.
    enqueued = deps.outbox.pool.connected
    # Staged: written with the deliveries of its write group, before the group commits.
    record = functools.partial(
        intake_db.stage,
        deps.settings.registry,
        hook.repository_id,
        parsed,
        utcnow(),
        enqueued=enqueued,
    )
    try:
        try:
            result = (await deps.writer.run(record)).result()
        except IntegrityError:
            seen = functools.partial(intake_db.seen, hook.repository_id, parsed.delivery_id)
            earlier = await deps.writer.run(seen)
            if earlier is not None:  # a delivery seen before: answer as it was answered
                return earlier
            # Not a duplicate: a rule (or the repository) was replaced meanwhile. Again,
            # with what is stored now.
            result = (await deps.writer.run(record)).result()
    except NotFound:
        deps.hooks.pop((provider, hook_key), None)
        raise
    if result.build_ids and enqueued:
        await deps.outbox.enqueue_recorded(result.build_ids)
    elif result.build_ids:
        await deps.outbox.enqueue(result.build_ids)
    return result


def _header(headers: Mapping[str, str], names: Sequence[str]) -> str | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    return next((lowered[n.lower()] for n in names if lowered.get(n.lower())), None)


def _fallback_id(headers: Mapping[str, str], body: bytes) -> str:
    """A delivery id when the parser found none: a known header, else the body's hash."""
    found = _header(headers, _DELIVERY_HEADERS)
    return (found or "sha256:" + hashlib.sha256(body).hexdigest()[:40])[:128]


def _parse(provider: str, headers: Mapping[str, str], body: bytes) -> Parsed:
    try:
        events = webhooks.parse(provider, headers, body)
    except webhooks.UnsupportedEvent as exc:
        name = exc.event or _header(headers, _EVENT_HEADERS) or "unknown"
        what = f"{name} event" if exc.reason == "event" else "not a branch or tag push"
        return Parsed(_fallback_id(headers, body), name[:32], outcome=f"ignored: {what}")
    except webhooks.WebhookError as exc:
        if exc.reason == "too_deep":  # the code every JSON body too deep answers
            message = f"The webhook payload nests deeper than {webhooks.MAX_JSON_DEPTH} levels."
            raise InvalidJson(message, detail=exc.message) from exc
        raise WebhookPayloadInvalid(detail=exc.message) from exc
    delivery_id = events[0].delivery_id[:128] if events[0].delivery_id else None
    delivery_id = delivery_id or _fallback_id(headers, body)
    pushes = [e for e in events if isinstance(e, webhooks.PushEvent)]
    if not pushes:
        return Parsed(delivery_id, "ping", outcome=PING)
    return Parsed(delivery_id, "push", pushes[0].ref, pushes[0].after, pushes)
