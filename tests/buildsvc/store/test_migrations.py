"""Migrations build exactly the schema of models.py, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from buildsvc.config import Settings
from buildsvc.store.engine import create_engine
from buildsvc.store.migrate import alembic_config, current_revision, head_revision, upgrade_database
from buildsvc.store.models import Base


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _run_sync(settings: Settings, function: Callable[[Connection], Any]) -> Any:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            result = await connection.run_sync(function)
            await connection.commit()
            return result
    finally:
        await engine.dispose()


async def test_upgrade_on_empty_database_matches_models(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)

    assert await current_revision(settings) == head_revision()
    tables = await _run_sync(settings, lambda c: set(inspect(c).get_table_names()))
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert await _run_sync(settings, _drift) == []


async def test_upgrade_twice_is_a_no_op(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    await upgrade_database(settings)
    assert await current_revision(settings) == head_revision()


async def test_concurrent_upgrades_on_one_fresh_database(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    # Several processes starting at once: exactly one migrates, none fails.
    settings = settings_for(database_url)
    await asyncio.gather(*(upgrade_database(settings) for _ in range(6)))
    assert await current_revision(settings) == head_revision()
    assert await _run_sync(settings, _drift) == []


async def test_downgrade_to_base_and_back(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)

    def downgrade(connection: Connection) -> set[str]:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
        return set(inspect(connection).get_table_names())

    assert await _run_sync(settings, downgrade) <= {"alembic_version"}
    await upgrade_database(settings)
    assert await _run_sync(settings, _drift) == []


async def test_concurrent_upgrades_from_separate_processes(
    database_url: str, settings_for: Callable[[str], Settings], tmp_path: Any
) -> None:
    # What really happens in production: API processes and workers starting together.
    env = {
        **os.environ,
        "BUILDSVC_DATABASE_URL": database_url,
        "BUILDSVC_DATA_DIR": str(tmp_path),
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "buildsvc",
            "admin",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [await process.communicate() for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
    settings = settings_for(database_url)
    assert await current_revision(settings) == head_revision()
    assert await _run_sync(settings, _drift) == []
