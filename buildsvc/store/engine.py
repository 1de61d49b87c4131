"""The database engine and sessions: SQLite (embedded default) or PostgreSQL (many nodes).

SQLite is tuned for several processes (API and workers) sharing one file: WAL so readers
never wait for the writer, a busy timeout so writers queue instead of failing, foreign
keys on (cascades rely on them), and ``BEGIN IMMEDIATE`` for every transaction. The last
one matters: a deferred transaction that reads and then writes fails at once with
"database is locked" when another connection committed in between, whatever the busy
timeout; taking the write lock at BEGIN makes such transactions wait their turn instead.

Conventions for services (every domain follows them):

- entry points take the ``async_sessionmaker`` and own their transaction
  (``async with sessionmaker.begin() as session: ...``);
- helpers that compose into a caller's transaction take an ``AsyncSession``;
- never hold a transaction open across a network call (forge, registry): on SQLite
  every transaction holds the database's write lock until it ends;
- a look that only reads on a hot path takes ``reading(sessionmaker)``: on SQLite its
  transaction begins deferred, so under WAL it neither waits for the write lock nor
  holds it (a waiter sleeps in SQLite's busy handler, 1, 2, 5, 10 ms... per try).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from buildsvc.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 20
# Several SQLite connections even though SQLite has one writer: the hand-over between
# connections happens inside SQLite, without a trip through the event loop. Measured on
# the dev box (2 CPUs, loaded), 300 read-modify-write transactions offered at 100/s:
# 5 connections p50 6-15 ms / p99 23-460 ms, 1 connection p50 9-70 ms / p99 64-910 ms.
SQLITE_POOL_SIZE = 5
SQLITE_MAX_OVERFLOW = 10
# The execution option that makes a SQLite transaction begin deferred (``reading``).
READ_ONLY_OPTION = "buildsvc_read_only"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgresql(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_engine(
    settings: Settings,
    *,
    url: str | None = None,
    read_only: bool = False,
    foreign_keys: bool = True,
) -> AsyncEngine:
    """The async engine for ``settings`` (or an explicit ``url``, used by migrations/tests).

    ``read_only``: for hot paths that only read (the registry token server). On SQLite
    its transactions begin deferred and the connection refuses writes, so under WAL they
    run beside each other and beside the writer instead of queueing for the write lock.

    ``foreign_keys=False``: for migrations. SQLite changes a column by copying its table
    and dropping the old one, and a DROP TABLE under enforced foreign keys deletes the
    rows that reference it (``ON DELETE CASCADE``): rules and builds would go with a
    change to ``image_repositories``. The pragma cannot change inside a transaction, so
    it is chosen per connection here.
    """
    target = make_url(url or settings.resolved_database_url)
    if target.get_backend_name() == "sqlite":
        if settings.database_url is None and url in (None, settings.resolved_database_url):
            # The default database's directory is data_dir, made on first use; the
            # directory of a configured URL never is (a typo would go unnoticed).
            settings.data_dir.mkdir(exist_ok=True)
        return _sqlite_engine(target, read_only=read_only, foreign_keys=foreign_keys)
    return create_async_engine(
        target,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_pre_ping=True,  # PostgreSQL restarts and idle-killing proxies drop connections
        pool_recycle=1800,
    )


def _sqlite_engine(url: URL, *, read_only: bool = False, foreign_keys: bool = True) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_MAX_OVERFLOW,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy (the "begin" hook below) instead of the
        # driver, which would issue a deferred BEGIN lazily.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, much faster
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        deferred = read_only or connection.get_execution_options().get(READ_ONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads only: on SQLite its transaction begins deferred (see the
    module's conventions); it is rolled back at the end, never committed."""
    async with sessionmaker() as session:
        await session.connection(execution_options={READ_ONLY_OPTION: True})
        yield session


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services return ORM objects that handlers render after commit.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer a trivial query."""
    async with engine.connect() as connection:
        await connection.exec_driver_sql("SELECT 1")
