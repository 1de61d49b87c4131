"""Running the webhook path's short write transactions without per-statement overhead.

Intake writes a delivery, its builds and a supersede update for every push. With the
async SQLite driver each statement is several hand-offs to aiosqlite's thread, and a
busy helper thread makes the event loop wait for the GIL on every socket call: a
transaction of microseconds of SQLite work costs milliseconds. ``Writer.run(work)``
runs ``work(raw)``, a plain synchronous function of a ``RawConnection`` (it runs
``Prepared`` statements), in a transaction, and returns its result once committed:

- SQLite: on the event loop itself, over one synchronous pysqlite connection to the
  same file with the store's settings (WAL, foreign keys, ``BEGIN IMMEDIATE``) but no
  busy timeout. The write lock is taken without waiting: while another connection holds
  it the writer sleeps briefly and retries, never blocking the loop. Works submitted
  meanwhile run together in one transaction (group commit), so a burst of deliveries
  pays for one BEGIN and one COMMIT. If one work of a group raises, the group rolls back
  and each of its works runs again in a transaction of its own, so one failure (a
  duplicate delivery) never fails another.
- Anything else (PostgreSQL with asyncpg, where awaiting is cheap): on an async
  connection via ``run_sync``, one transaction per work.

``work`` must be quick, must not wait on anything but the database, and may run twice
(its first transaction rolled back). What it leaves to ``raw.before_commit`` runs after
the group's last work, in the same transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection

from buildsvc.store.engine import SQLITE_BUSY_TIMEOUT_MS
from buildsvc.store.fastpath.prepared import RawConnection

T = TypeVar("T")
Work = Callable[[RawConnection], Any]

_FIRST_BACKOFF_SECONDS = 0.0002
_MAX_BACKOFF_SECONDS = 0.01


def _create_engine(url: str) -> Engine:
    # check_same_thread off: used on the loop's thread, ``close`` may come from another.
    connect_args = {"timeout": 0, "check_same_thread": False}
    engine = create_engine(url, pool_size=1, max_overflow=0, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are BEGIN ... COMMIT below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")  # wait by retrying, never on the loop
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _driver(connection: PoolProxiedConnection) -> Any:
    """The pooled connection's sqlite3 connection (always there while it is checked out)."""
    driver = connection.driver_connection
    assert driver is not None
    return driver


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class _SqliteWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: PoolProxiedConnection | None = None
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, work: Work) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # let handlers that are ready join this group
                await self._run_group()
        finally:
            self._drainer = None
            for _, future in self._pending:  # only left when the drainer was cancelled
                if not future.done():
                    future.set_exception(RuntimeError("the database writer stopped"))
            self._pending.clear()

    async def _begin(self) -> RawConnection:
        """BEGIN IMMEDIATE: the write lock, retried (sleeping) while another holds it."""
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            if self._connection is None:
                self._connection = self.engine.raw_connection()
            try:
                # The sqlite3 connection itself: the pool's proxy costs a Python wrapper per cursor.
                driver = _driver(self._connection)
                driver.execute("BEGIN IMMEDIATE")
                return RawConnection(self.engine.dialect, driver)
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    self._discard()
                    raise
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def _end(self, commit: bool) -> None:
        assert self._connection is not None
        try:
            # Straight on sqlite3, as BEGIN: no pool proxy cursor per transaction.
            _driver(self._connection).execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.Error:
            self._discard()  # a connection in an unknown state is not reused
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()
            self._connection = None

    def _transaction(self, raw: RawConnection, works: list[Work]) -> list[Any]:
        try:
            results = [work(raw) for work in works]
            raw.finish()
            self._end(commit=True)
        except BaseException:
            if self._connection is not None:
                self._end(commit=False)
            raise
        return results

    async def _run_group(self) -> None:
        try:
            raw = await self._begin()
        except Exception as exc:
            group, self._pending = self._pending, []
            _settle([(future, exc, False) for _, future in group])
            return
        group, self._pending = self._pending, []  # everything submitted up to now
        try:
            results = self._transaction(raw, [work for work, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle([(group[0][1], exc, False)])
                return
            for work, future in group:  # isolate the failure: each alone
                await self._run_alone(work, future)
            return
        _settle(
            [(future, result, True) for (_, future), result in zip(group, results, strict=True)]
        )

    async def _run_alone(self, work: Work, future: asyncio.Future[Any]) -> None:
        try:
            raw = await self._begin()
            [result] = self._transaction(raw, [work])
        except Exception as exc:
            _settle([(future, exc, False)])
        else:
            _settle([(future, result, True)])


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any, bool]]) -> None:
    for future, value, ok in outcomes:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Writer:
    """The write path of one database (its ``AsyncEngine``): ``await writer.run(work)``.

    Made with the engine and closed before it is disposed (``app.py``'s ``_database``
    context); on an SQLite file it holds its own synchronous connection.
    """

    def __init__(self, async_engine: AsyncEngine) -> None:
        self.async_engine = async_engine
        url = async_engine.url
        self._sqlite: _SqliteWriter | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            engine = _create_engine(url.set(drivername="sqlite+pysqlite").render_as_string(False))
            self._sqlite = _SqliteWriter(engine)

    @classmethod
    def of(cls, sessions: async_sessionmaker[AsyncSession]) -> Writer:
        """A writer for the engine ``sessions`` is bound to."""
        bind = sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("a Writer needs a sessionmaker bound to an AsyncEngine")
        return cls(bind)

    async def run(self, work: Callable[[RawConnection], T]) -> T:
        if self._sqlite is None:

            def in_transaction(connection: Connection) -> T:
                raw = RawConnection.of(connection)
                result = work(raw)
                raw.finish()
                return result

            async with self.async_engine.begin() as async_connection:
                return await async_connection.run_sync(in_transaction)
        result: T = await self._sqlite.submit(work)
        return result

    def close(self) -> None:
        if self._sqlite is not None:
            sqlite, self._sqlite = self._sqlite, None
            sqlite.close()
