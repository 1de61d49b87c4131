"""Kicking a deferred job: due at once, and the workers are told (they poll rarely)."""

from __future__ import annotations

import time
from typing import Any

from arq.connections import ArqRedis
from arq.constants import default_queue_name
from arq.utils import timestamp_ms

from buildsvc.builds import outbox
from buildsvc.builds.outbox import WAKE_CHANNEL, Sender, job_id


async def wake_ups(pubsub: Any, seconds: float = 0.3) -> int:
    """Wake-up messages within ``seconds`` (subscribe confirmations read as None)."""
    count = 0
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if await pubsub.get_message(ignore_subscribe_messages=True, timeout=left):
            count += 1
    return count


async def test_a_kicked_job_is_due_now_and_wakes_the_workers(
    arq_redis: ArqRedis, sender: Sender
) -> None:
    await sender.enqueue_job(5)
    later = timestamp_ms() + 60_000  # deferred, as a build waiting behind its ref's build
    await arq_redis.zadd(default_queue_name, {job_id(5): later})
    wake = arq_redis.pubsub()
    await wake.subscribe(WAKE_CHANNEL)

    assert await outbox.kick(arq_redis, job_id(5))

    assert await arq_redis.zscore(default_queue_name, job_id(5)) <= timestamp_ms()
    assert await wake_ups(wake) == 1
    assert not await outbox.kick(arq_redis, job_id(6))  # not queued: nothing to wake for
    assert await wake_ups(wake) == 0
    await wake.aclose()  # type: ignore[no-untyped-call]
