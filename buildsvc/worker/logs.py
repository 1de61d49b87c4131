"""The build log as the worker writes it: masked, numbered, stored and published in batches.

``write`` is synchronous and cheap (the fetch, build and push streams call it per line):
it masks the line, gives it the next sequence number and queues it. A flusher task
stores the queue every ``FLUSH_SECONDS`` (or sooner when ``FLUSH_LINES`` are waiting)
in one INSERT, then publishes the same batch on the build's channel
(``buildsvc.builds.logs``), so followers see lines within a tenth of a second while the
database sees a few statements per second, not one per line. Closing the log flushes
what is left.

A worker that lost its build (another worker took it over after a missed heartbeat)
must not write into the new attempt's log: ``detach`` drops what is pending and makes
every later ``write`` a no-op. Should a batch still collide with the new owner's
numbers, it is renumbered after the stored ones and stored again.

The build's ending goes through ``flush_with``: the last lines and the final status are
stored in one transaction, so a follower reading the store never sees the status without
them, and the worker knows the last line's number to announce with the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import TypeVar

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds import logs
from buildsvc.builds.logs import LogLine
from buildsvc.store.models import utcnow
from buildsvc.worker.masking import Masker

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1
FLUSH_LINES = 500
MAX_LINE_CHARS = 8192
MAX_LINES = 100_000  # per attempt; a runaway build must not fill the database
TRUNCATED = "[log truncated: more than {limit} lines]"

T = TypeVar("T")


def build_masker(
    *,
    token: str | None,
    git_username: str | None,
    registry_password: str | None,
    secret_values: Iterable[str] = (),
) -> Masker:
    """Every secret a build's output could show, in every form it could show it."""
    masker = Masker()
    masker.add(token, username=git_username)
    masker.add(registry_password)
    for value in secret_values:
        masker.add(value)
    return masker


class BuildLog:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis | None,
        build_id: int,
        masker: Masker,
        *,
        first_seq: int = 1,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._redis = redis
        self.build_id = build_id
        self._masker = masker
        self._next = first_seq
        self._pending: list[LogLine] = []
        self._written = 0
        self._detached = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def write(self, text: str) -> None:
        """Queue one line (or several, if ``text`` holds newlines)."""
        if self._detached:
            return
        for raw in text.splitlines() or [""]:
            if self._written == MAX_LINES:
                self._append(TRUNCATED.format(limit=MAX_LINES))
            if self._written >= MAX_LINES:
                continue
            self._append(self._masker.mask(raw)[:MAX_LINE_CHARS])
        if len(self._pending) >= FLUSH_LINES:
            self._wake.set()

    def _append(self, line: str) -> None:
        self._pending.append(LogLine(self._next, utcnow(), line))
        self._next += 1
        self._written += 1

    def detach(self) -> None:
        """Stop writing: the build belongs to someone else now."""
        self._detached = True
        self._pending.clear()

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                batch = await self._store(batch)
            except SQLAlchemyError as exc:
                # Kept for the next flush: a database hiccup must not lose the log.
                log.warning("could not store log lines of build %s: %s", self.build_id, exc)
                self._pending = batch + self._pending
                return
            await logs.publish(self._redis, self.build_id, logs.encode_lines(batch))

    async def flush_with(
        self, step: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[T, int | None]:
        """Store the pending lines and run ``step`` in the same transaction, then publish them.

        Returns what ``step`` returned and the sequence number of the last line stored
        with it (None if there was none, or the two had to be stored apart).
        """
        async with self._lock:
            batch, self._pending = self._pending, []
            try:
                async with self._sessionmaker.begin() as session:
                    await logs.store(session, self.build_id, batch)
                    result = await step(session)
            except SQLAlchemyError as exc:
                self._pending = batch + self._pending
                # A collision to renumber, or a hiccup: the lines are not lost either way.
                log.info("build %s: storing the log apart from its step: %s", self.build_id, exc)
            except BaseException:
                self._pending = batch + self._pending  # rolled back: still to be stored
                raise
            else:
                if batch:
                    await logs.publish(self._redis, self.build_id, logs.encode_lines(batch))
                return result, batch[-1].seq if batch else None
        # Both apart, as before there was a shared transaction: lines first, then the step.
        await self.flush()
        async with self._sessionmaker.begin() as session:
            return await step(session), None

    async def _store(self, batch: list[LogLine]) -> list[LogLine]:
        try:
            async with self._sessionmaker.begin() as session:
                await logs.store(session, self.build_id, batch)
            return batch
        except IntegrityError:
            async with self._sessionmaker.begin() as session:
                first = await logs.next_seq(session, self.build_id)
                batch = [LogLine(first + i, x.ts, x.line) for i, x in enumerate(batch)]
                await logs.store(session, self.build_id, batch)
            # Lines written meanwhile follow the renumbered batch.
            after = batch[-1].seq + 1
            self._pending = [LogLine(after + i, x.ts, x.line) for i, x in enumerate(self._pending)]
            self._next = after + len(self._pending)
            return batch

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def __aenter__(self) -> BuildLog:
        self._task = asyncio.create_task(self._run(), name=f"log-flusher-{self.build_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Shielded: the last lines (why the build ended) matter most.
        await asyncio.shield(self.flush())
