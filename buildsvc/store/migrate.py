"""Bring the database schema to the newest revision; every process calls this on start.

API processes and workers may start at the same moment against one PostgreSQL. Only one
may run the migrations: the others wait on a session-level advisory lock and then find
nothing left to do. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (see
``engine``), which serialises concurrent upgrades the same way. Within one process a
lock per event loop does it: Alembic keeps its context in module globals, so two
upgrades interleaving on one loop would trample each other.

Migrations find the process's ``Settings`` under ``SETTINGS`` in the Alembic config's
attributes, for a data step that needs the secret keys. One that overwrote secrets on
SQLite sets ``SCRUB_SQLITE_WAL``: once committed, the WAL (which still holds the pages
as they were) is checkpointed and truncated.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from buildsvc.config import Settings
from buildsvc.store.engine import SQLITE_BUSY_TIMEOUT_MS, create_engine, is_postgresql, is_sqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant shared by every buildsvc process; "bsvmigr" as a 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"bsvmigr", "big")
SETTINGS = "buildsvc.settings"
SCRUB_SQLITE_WAL = "buildsvc.scrub_sqlite_wal"

_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _process_lock() -> asyncio.Lock:
    return _loop_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_database(settings: Settings, *, url: str | None = None) -> None:
    """Apply every pending migration to the settings' database (or ``url``)."""
    async with _process_lock():
        await _upgrade_with_lock(settings, url)


async def _upgrade_with_lock(settings: Settings, url: str | None) -> None:
    # Foreign keys off on SQLite: its table copies (batch mode) would cascade deletes.
    engine = create_engine(settings, url=url, foreign_keys=False)
    scrub = False
    try:
        async with engine.connect() as connection:
            locked = is_postgresql(engine.url)
            if locked:
                await _advisory(connection, "pg_advisory_lock")
            try:
                scrub = await connection.run_sync(functools.partial(_upgrade, settings=settings))
                await connection.commit()
            finally:
                if locked:
                    await _advisory(connection, "pg_advisory_unlock")
    finally:
        await engine.dispose()
    if scrub and is_sqlite(engine.url) and engine.url.database:
        await asyncio.to_thread(_truncate_wal, engine.url.database)


async def current_revision(settings: Settings, *, url: str | None = None) -> str | None:
    engine = create_engine(settings, url=url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def _advisory(connection: AsyncConnection, function: str) -> None:
    # Session-level lock: it survives the commits the migration makes and is released
    # by the unlock (or when the connection closes, should this process die).
    await connection.execute(text(f"SELECT {function}(:key)"), {"key": ADVISORY_LOCK_KEY})
    await connection.commit()


def _upgrade(connection: Connection, *, settings: Settings) -> bool:
    """Upgrade to head; whether a migration asked for ``SCRUB_SQLITE_WAL``."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    cfg.attributes[SETTINGS] = settings
    command.upgrade(cfg, "head")
    return bool(cfg.attributes.get(SCRUB_SQLITE_WAL))


def _truncate_wal(database: str) -> None:
    # A connection of its own: SQLAlchemy's would run the checkpoint inside BEGIN IMMEDIATE.
    connection = sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        [(busy, _, _)] = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        connection.close()
    if busy:  # readers kept it from finishing: later writes overwrite the old frames
        log.warning("could not truncate the write-ahead log of %s", database)
