"""Sending deliveries: one arq job per target, which sends its pending deliveries in order.

A target's job id is ``notify:<target id>``: arq refuses a second job with the id of one
queued or running, so one job at a time sends a target's deliveries, oldest first. The
next one waits until the one before is delivered or given up: a receiver gets a build's
events in the order they happened.

A failed attempt is tried again after ``notification_backoff_seconds``, doubling per
attempt up to ``notification_backoff_max_seconds``; the job ends meanwhile (no worker
slot, no job left waiting in Redis, so a target re-enabled or changed is not stuck
behind one). A target that has failed for ``notification_give_up_seconds`` (24 hours)
without one success is disabled, with the reason; its unsent deliveries are abandoned.
A test delivery is tried once and never disables a target.

Nothing enqueues on the paths that record events (intake, the state machine): every
worker runs ``sweep_forever``, which enqueues the job of each target whose oldest
pending delivery is due (a duplicate is refused), so an event is sent within about a
sweep interval of being recorded, and a retry as soon as it is due.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.notifications import http, messages
from buildsvc.notifications.events import Event
from buildsvc.notifications.targets import abandon_pending
from buildsvc.queue import JobQueue, JobSpec, RetryLater
from buildsvc.sources import AddressPolicy
from buildsvc.store.models import NotificationDelivery, NotificationTarget, utcnow

log = logging.getLogger(__name__)

JOB_FUNCTION = "deliver_notifications"
NOTIFIER = "buildsvc_notifier"  # arq ctx key
# A job run ends after this many deliveries or seconds and queues itself again at once:
# it shares the worker's job slots (``max_jobs``) with builds, so it must not hold one long.
BATCH = 50
BATCH_SECONDS = 30.0
MAX_TRIES = 1_000_000  # a job that yields its slot (BATCH) comes back as a RetryLater
JOB_TIMEOUT_SECONDS = 600


def job_id(target_id: int) -> str:
    return f"notify:{target_id}"


@dataclass
class Notifier:
    """What sending needs; ``clock`` is replaceable so tests can pass 24 hours."""

    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: Cipher
    settings: Settings
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy.from_cidrs(self.settings.allowed_source_networks)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``."""
        settings = self.settings
        base = settings.notification_backoff_seconds
        wait = base * 2 ** max(attempts - 1, 0)
        return float(min(wait, settings.notification_backoff_max_seconds))


def job_spec() -> JobSpec:
    return JobSpec(
        JOB_FUNCTION,
        deliver_notifications,
        timeout=JOB_TIMEOUT_SECONDS,
        max_tries=MAX_TRIES,
        keep_result=0,  # a finished job must not block the target's next one
    )


async def deliver_notifications(ctx: dict[str, Any], target_id: int) -> str:
    """The arq job: send the target's due deliveries, in order."""
    notifier: Notifier = ctx[NOTIFIER]
    return await drain(notifier, target_id)


async def drain(notifier: Notifier, target_id: int) -> str:
    """Send the target's pending deliveries oldest first, until one must wait."""
    deadline = time.monotonic() + BATCH_SECONDS
    for _ in range(BATCH):
        if time.monotonic() > deadline:
            break
        async with notifier.sessionmaker() as session:
            target = await session.get(NotificationTarget, target_id)
            if target is None:
                return "the target was deleted"
            head = await session.scalar(
                select(NotificationDelivery)
                .where(
                    NotificationDelivery.target_id == target_id,
                    NotificationDelivery.state == "pending",
                )
                .order_by(NotificationDelivery.id)
                .limit(1)
            )
        if head is None:
            return "sent everything"
        now = notifier.clock()
        if head.next_attempt_at > now:
            return "the next delivery is not due yet"
        outcome = await _send(notifier, target, head, now)
        async with notifier.sessionmaker.begin() as session:
            wait = await _record(notifier, session, target_id, head, outcome, now)
        if wait is not None:
            return f"failed; tried again in {wait:g} s"
    raise RetryLater(0)  # more to send: other jobs get a turn first


async def _send(
    notifier: Notifier, target: NotificationTarget, delivery: NotificationDelivery, now: dt.datetime
) -> http.Outcome:
    settings = notifier.settings
    body = messages.with_links(delivery.payload, settings.public_url)
    try:
        url = notifier.cipher.decrypt(target.url_encrypted)
        if target.kind == "slack":
            data, headers = messages.slack_request(body)
        else:
            secret = notifier.cipher.decrypt(target.secret_encrypted or "")
            data, headers = messages.webhook_request(body, delivery.id, secret, now)
    except Exception as exc:  # an unreadable secret: an attempt that failed, not a crash
        log.warning("notification %s not sent: %s", delivery.id, exc)
        return http.Outcome(None, 0, f"not sent: {type(exc).__name__}")
    seconds = settings.notification_timeout_seconds
    return await http.post(url, data, headers, notifier.policy, seconds)


async def _record(
    notifier: Notifier,
    session: AsyncSession,
    target_id: int,
    delivery: NotificationDelivery,
    outcome: http.Outcome,
    now: dt.datetime,
) -> float | None:
    """Store the attempt; seconds until the next one, or None (delivered or given up)."""
    attempts = delivery.attempts + 1
    test = delivery.event == Event.TEST.value
    retry = not outcome.ok and not test
    state = "delivered" if outcome.ok else ("pending" if retry else "failed")
    values: dict[str, Any] = {
        "state": state,
        "attempts": attempts,
        "last_attempt_at": now,
        "response_status": outcome.status,
        "response_ms": outcome.milliseconds,
        "error": outcome.error,
    }
    target = await session.get(NotificationTarget, target_id)
    wait: float | None = None
    give_up_since: dt.datetime | None = None
    if target is not None and not test:
        if outcome.ok:
            target.failing_since = None
        else:
            since = target.failing_since or now
            target.failing_since = since
            if (now - since).total_seconds() >= notifier.settings.notification_give_up_seconds:
                values["state"] = "failed"
                give_up_since = since
            else:
                wait = notifier.backoff(attempts)
                values["next_attempt_at"] = now + dt.timedelta(seconds=wait)
    await session.execute(
        update(NotificationDelivery)
        # Not if it was abandoned meanwhile (its target disabled by a user while sending).
        .where(NotificationDelivery.id == delivery.id, NotificationDelivery.state == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if target is not None and give_up_since is not None:  # after: this one is failed, not abandoned
        await _disable(session, target, give_up_since, outcome, now)
    return wait


async def _disable(
    session: AsyncSession,
    target: NotificationTarget,
    since: dt.datetime,
    outcome: http.Outcome,
    now: dt.datetime,
) -> None:
    target.enabled = False
    target.disabled_at = now
    stamp = since.isoformat(timespec="seconds").replace("+00:00", "Z")
    target.disabled_reason = f"failing since {stamp}; last attempt: {outcome.error}"
    await abandon_pending(session, target.id, "the target was disabled after failing")
    log.warning("notification target %s disabled: %s", target.id, target.disabled_reason)


async def due_targets(notifier: Notifier) -> list[int]:
    """Targets whose oldest pending delivery is due now (a later one waits behind it)."""
    head = NotificationDelivery
    before = aliased(NotificationDelivery)
    earlier = (
        select(before.id)
        .where(before.target_id == head.target_id, before.state == "pending", before.id < head.id)
        .exists()
    )
    statement = select(head.target_id).where(
        head.state == "pending", head.next_attempt_at <= notifier.clock(), ~earlier
    )
    async with notifier.sessionmaker() as session:
        return [int(target_id) for target_id in await session.scalars(statement)]


async def enqueue(redis: JobQueue, target_ids: list[int]) -> None:
    """The targets' jobs, unless queued already (arq refuses a job id it holds)."""
    for target_id in target_ids:
        await redis.enqueue_job(JOB_FUNCTION, target_id, _job_id=job_id(target_id))


async def enqueue_soon(redis: JobQueue | None, target_id: int) -> None:
    """Start the target's job now if Redis answers; else a worker's sweep does it soon."""
    if redis is None:
        return
    try:
        await enqueue(redis, [target_id])
    except (RedisError, OSError) as exc:
        log.warning("notification job of target %s left to the sweep: %s", target_id, exc)


async def sweep_forever(notifier: Notifier, redis: JobQueue) -> None:
    """Enqueue the jobs of targets with deliveries due; runs until cancelled."""
    while True:
        try:
            await enqueue(redis, await due_targets(notifier))
        except (RedisError, OSError) as exc:
            # The worker's supervisor logs the outage once; the sweep just tries again.
            log.debug("could not enqueue notifications (trying again): %s", exc)
        except Exception:  # a database hiccup must not end the sweeper
            log.exception("notification sweep failed; trying again")
        await asyncio.sleep(notifier.settings.notification_sweep_seconds)
