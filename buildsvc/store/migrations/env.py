"""Alembic environment: runs on a connection handed in by ``buildsvc.store.migrate``.

``upgrade_database`` passes an open (sync-facing) connection in
``config.attributes["connection"]`` while it holds the migration lock, and its Settings
(``migrate.SETTINGS``). Run from the ``alembic`` command line instead, this opens its own
async engine for the URL in the config or, failing that, the one the ``BUILDSVC_``
settings describe, and passes those settings.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from buildsvc.store.models import Base, UtcDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations spell the plain column type; UtcDateTime only adds Python-side conversion.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        # SQLite supports transactional DDL although Alembic assumes not: one transaction
        # (begun IMMEDIATE, see store.engine) makes concurrent upgrades wait for each other.
        transactional_ddl=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from buildsvc.config import Settings

    return Settings().resolved_database_url


async def _run_standalone() -> None:
    from buildsvc.config import Settings
    from buildsvc.store.engine import create_engine
    from buildsvc.store.migrate import SETTINGS

    settings = Settings()
    config.attributes.setdefault(SETTINGS, settings)
    engine = create_engine(settings, url=_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    asyncio.run(_run_standalone())
