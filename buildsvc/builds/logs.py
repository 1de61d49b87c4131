"""Build logs: stored lines (sequence number, time, text) and their live channel.

The worker stores each batch of (already masked) lines, then publishes it on the build's
Redis channel; when the build ends, whoever ended it publishes the final status there.
Any API process can follow a build with ``follow``: it subscribes first, then reads the
stored lines after the client's last sequence number, then takes live batches. Sequence
numbers make that gapless and free of duplicates: live lines already sent are skipped,
and a gap (a batch published before the subscription took effect, or a lost message)
sends the follower back to the store, which always holds every published line because
lines are committed before they are published. The build's status is also checked on
every quiet second, so a follower ends even when Redis is down or the end message is
lost. A follower that could not subscribe (Redis was away) tries again before each read
of the store; one that was subscribed is subscribed again by redis-py when Redis is back.

The worker's end message also names the build's last stored line (``last``): a follower
that already sent it ends at once. Any other end (no ``last``, or lines missing) sends
the follower to the store: lines, then the status, then lines stored meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.states import FINISHED, BuildStatus
from buildsvc.store.models import Build, BuildLogLine

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "buildsvc:logs:"
READ_BATCH = 1000
POLL_SECONDS = 1.0  # a quiet follower re-checks the store and the status this often
RESYNC_SECONDS = 5.0  # and at least this often while lines keep coming
REDIS_ERRORS = (RedisError, OSError, TimeoutError)


def channel(build_id: int) -> str:
    return f"{CHANNEL_PREFIX}{build_id}"


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    ts: dt.datetime
    line: str

    def to_json(self) -> dict[str, Any]:
        ts = self.ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return {"seq": self.seq, "ts": ts, "line": self.line}


@dataclass(frozen=True, slots=True)
class LogEnd:
    """The build is over: its final status (``unknown`` if the build is gone).

    ``last``, in a channel message only: the sequence number of the build's last line.
    """

    status: str
    last: int | None = None


@dataclass(frozen=True, slots=True)
class LogIdle:
    """Nothing new for a poll interval (lets a streaming handler send a keep-alive)."""


IDLE = LogIdle()


async def store(session: AsyncSession, build_id: int, lines: Sequence[LogLine]) -> None:
    """Insert a batch in the caller's transaction (one executemany)."""
    if lines:
        rows = [{"build_id": build_id, "seq": x.seq, "ts": x.ts, "line": x.line} for x in lines]
        await session.execute(insert(BuildLogLine), rows)


async def next_seq(session: AsyncSession, build_id: int) -> int:
    """The sequence number the next line of the build gets (1 for an empty log)."""
    statement = select(func.max(BuildLogLine.seq)).where(BuildLogLine.build_id == build_id)
    return int(await session.scalar(statement) or 0) + 1


async def read(
    sessionmaker: async_sessionmaker[AsyncSession],
    build_id: int,
    *,
    after: int = 0,
    limit: int = READ_BATCH,
) -> list[LogLine]:
    """Stored lines with a sequence number above ``after``, in order."""
    statement = (
        select(BuildLogLine.seq, BuildLogLine.ts, BuildLogLine.line)
        .where(BuildLogLine.build_id == build_id, BuildLogLine.seq > after)
        .order_by(BuildLogLine.seq)
        .limit(limit)
    )
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    return [LogLine(seq, ts, line) for seq, ts, line in rows]


async def count(sessionmaker: async_sessionmaker[AsyncSession], build_id: int) -> int:
    async with sessionmaker() as session:
        statement = select(func.count()).where(BuildLogLine.build_id == build_id)
        return int(await session.scalar(statement) or 0)


def encode_lines(lines: Sequence[LogLine]) -> str:
    return json.dumps({"lines": [[x.seq, x.ts.isoformat(), x.line] for x in lines]})


def encode_end(status: str, last: int | None = None) -> str:
    return json.dumps({"end": status} if last is None else {"end": status, "last": last})


def decode(data: bytes | str) -> list[LogLine] | LogEnd | None:
    """A channel message as lines or an end; None for anything unreadable."""
    try:
        message = json.loads(data)
        if "end" in message:
            status, last = str(message["end"]), message.get("last")
            # Anything but a plain number (bool is an int too) is as good as no ``last``.
            return LogEnd(status, last if type(last) is int else None)
        return [
            LogLine(int(seq), dt.datetime.fromisoformat(ts), str(line))
            for seq, ts, line in message["lines"]
        ]
    except (ValueError, TypeError, KeyError):
        return None


async def publish(redis: Redis | None, build_id: int, data: str) -> None:
    """Best effort: followers fall back to the store when a message is lost."""
    if redis is None:
        return
    try:
        await redis.publish(channel(build_id), data)
    except REDIS_ERRORS as exc:  # during an outage, every batch: not worth a warning each
        log.debug("could not publish to %s: %s", channel(build_id), exc)


async def publish_end(
    redis: Redis | None, build_id: int, status: BuildStatus | str, *, last: int | None = None
) -> None:
    """``last``: the build's last stored line, when the caller knows no line follows it."""
    await publish(redis, build_id, encode_end(BuildStatus(status).value, last))


async def _status(sessionmaker: async_sessionmaker[AsyncSession], build_id: int) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(select(Build.status).where(Build.id == build_id))


async def _subscribe(redis: Redis | None, build_id: int) -> PubSub | None:
    if redis is None:
        return None
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel(build_id))
    except REDIS_ERRORS as exc:  # tried again at the next read of the store
        log.debug("live log unavailable, following from the store: %s", exc)
        await _close(pubsub)
        return None
    return pubsub


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(*REDIS_ERRORS):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped


async def _next_message(pubsub: PubSub | None, wait: float) -> list[LogLine] | LogEnd | None:
    """The next live message within ``wait`` seconds, or None."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        if pubsub is None:
            await asyncio.sleep(left)
            return None
        try:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        except REDIS_ERRORS:
            await asyncio.sleep(left)
            return None
        if message is not None and message.get("type") == "message":
            return decode(message["data"])
    return None


async def follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis | None,
    build_id: int,
    *,
    after: int = 0,
    poll: float = POLL_SECONDS,
) -> AsyncGenerator[LogLine | LogEnd | LogIdle, None]:
    """Every line after ``after``, stored then live, ending with ``LogEnd``.

    ``IDLE`` comes after each quiet ``poll`` interval.
    """
    pubsub: PubSub | None = None
    last = after
    try:
        sync_due = 0.0  # monotonic time of the next forced read of the store
        while True:
            if time.monotonic() >= sync_due:
                # First, or after Redis was away: subscribe before the read.
                pubsub = pubsub or await _subscribe(redis, build_id)
                async for item in _from_store(sessionmaker, build_id, last):
                    yield item
                    if isinstance(item, LogEnd):
                        return
                    last = item.seq
                sync_due = time.monotonic() + RESYNC_SECONDS
            items, resync = _live(await _next_message(pubsub, poll), last)
            for live in items:
                yield live
                if isinstance(live, LogEnd):
                    return
                if isinstance(live, LogLine):
                    last = live.seq
            if resync:
                sync_due = 0.0
    finally:
        if pubsub is not None:
            await _close(pubsub)


async def _from_store(
    sessionmaker: async_sessionmaker[AsyncSession], build_id: int, last: int
) -> AsyncIterator[LogLine | LogEnd]:
    """Stored lines after ``last``; then ``LogEnd`` if the build has finished."""
    async for line in _stored(sessionmaker, build_id, last):
        yield line
        last = line.seq
    status = await _status(sessionmaker, build_id)
    if status is None or status in FINISHED:
        # Lines stored between the read above and the status read.
        async for line in _stored(sessionmaker, build_id, last):
            yield line
        yield LogEnd(status or "unknown")


def _live(
    message: list[LogLine] | LogEnd | None, last: int
) -> tuple[Sequence[LogLine | LogEnd | LogIdle], bool]:
    """What to send for a live message (None: a quiet interval), and whether to read the
    store next."""
    if isinstance(message, LogEnd) and _has_every_line(message, last):
        return [LogEnd(message.status)], False
    if message is None:
        return [IDLE], True
    if isinstance(message, LogEnd):
        return [], True
    return _in_order(message, last)


def _in_order(lines: list[LogLine], last: int) -> tuple[list[LogLine], bool]:
    """The live lines that follow ``last`` without a gap, and whether a batch was missed
    (the store has it)."""
    fresh: list[LogLine] = []
    for line in lines:
        if line.seq <= last:
            continue
        if line.seq != last + 1:
            return fresh, True
        fresh.append(line)
        last = line.seq
    return fresh, False


def _has_every_line(end: LogEnd, last: int) -> bool:
    """Whether a follower that sent up to ``last`` can end on ``end`` without the store."""
    return end.last is not None and end.last <= last and end.status in FINISHED


async def _stored(
    sessionmaker: async_sessionmaker[AsyncSession], build_id: int, after: int
) -> AsyncIterator[LogLine]:
    """Every stored line after ``after``, read in batches."""
    while True:
        batch = await read(sessionmaker, build_id, after=after, limit=READ_BATCH)
        for line in batch:
            yield line
        if len(batch) < READ_BATCH:
            return
        after = batch[-1].seq
