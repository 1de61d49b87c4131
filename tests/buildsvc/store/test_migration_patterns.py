"""Migration 0004: stored unslashed regexes keep their meaning once globs exist."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from sqlalchemy import select
from sqlalchemy.engine import Connection

from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import alembic_config, upgrade_database
from buildsvc.store.models import BuildRule
from tests.common.factories import add_account, add_repository

# As saved before 0004, and what each must read after it.
PATTERNS = {
    "main": "main",
    "release-1.0": "release-1.0",
    "/v.+/": "/v.+/",
    r"v\d+": r"/v\d+/",
    "v[0-9]+": "/v[0-9]+/",
    "release-.*": "/release-.*/",
    "main|develop": "/main|develop/",
    "v*": "v*",  # "zero or more v" was no one's intent: now the glob it looks like
    "feature/*": "feature/*",
}


def _downgrade_to_0003(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, "0003")


async def test_unslashed_regexes_are_wrapped_in_slashes(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            account = await add_account(session)
            repository = await add_repository(session, account.id)
            for position, old in enumerate(PATTERNS):
                session.add(
                    BuildRule(
                        repository_id=repository.id,
                        position=position,
                        type="branch",
                        pattern=old,
                        tag="x",
                    )
                )
        # As upgrade_database's: SQLite's table copies must not cascade deletes.
        migrating = create_engine(settings, foreign_keys=False)
        try:
            async with migrating.connect() as connection:
                await connection.run_sync(_downgrade_to_0003)
                await connection.commit()
        finally:
            await migrating.dispose()
        await upgrade_database(settings)
        async with sessionmaker() as session:
            rows = await session.scalars(select(BuildRule).order_by(BuildRule.position))
            assert [row.pattern for row in rows] == list(PATTERNS.values())
    finally:
        await engine.dispose()
