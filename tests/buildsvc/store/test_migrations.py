"""Migrations build exactly the schema of models.py, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection, make_url

from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.secret_args import decrypt_secrets
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import (
    SETTINGS,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from buildsvc.store.models import Base, Build, BuildRule
from tests.buildsvc.factories import add_account, add_repository, build_rule

SECRET_VALUE = "stored-in-clear-by-0002"


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _run_sync(settings: Settings, function: Callable[[Connection], Any]) -> Any:
    engine = create_engine(settings, foreign_keys=False)  # as upgrade_database's
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


async def test_0003_encrypts_stored_secret_build_args_and_0002_decrypts_them(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)

    def to(revision: str, step: Callable[[Config, str], None]) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            cfg.attributes[SETTINGS] = settings
            step(cfg, revision)

        return run

    await _run_sync(settings, to("0002", command.upgrade))
    await _run_sync(settings, _add_later_columns)
    args = {"MODE": "prod", "TOKEN": SECRET_VALUE}
    # Another process's connection stays open throughout, as the service's would: SQLite
    # then keeps the WAL file (the last connection to close would checkpoint and delete it).
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine).begin() as session:  # as 0002's code stored them
            account = await add_account(session)
            rule = build_rule(build_args=args, secret_build_args=["TOKEN"])
            repository = await add_repository(session, account.id, rules=[rule])
            for build_args, secret in ((args, ["TOKEN"]), ({"A": "1"}, [])):
                # Only the columns 0002 had: the model's later ones are not there yet.
                await session.execute(
                    insert(Build).values(
                        account_id=account.id,
                        repository_id=repository.id,
                        trigger="push",
                        ref="refs/heads/main",
                        ref_type="branch",
                        ref_name="main",
                        commit_sha="a" * 40,
                        build_args=build_args,
                        secret_build_args=secret,
                    )
                )
        await _run_sync(settings, _drop_later_columns)

        await upgrade_database(settings)

        stored = await _run_sync(settings, _stored_args)
        assert SECRET_VALUE not in json.dumps(stored)
        assert stored[2] == {"A": "1"}
        cipher = Cipher.from_settings(settings)
        assert [decrypt_secrets(cipher, a, ["TOKEN"]) for a in stored[:2]] == [args, args]
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":  # nor anywhere in its files, WAL included
            database = Path(url.database or "")
            files = list(database.parent.glob(f"{database.name}*"))
            assert f"{database.name}-wal" in {f.name for f in files}
            for path in files:
                assert SECRET_VALUE.encode() not in path.read_bytes(), path.name
    finally:
        await engine.dispose()

    await _run_sync(settings, to("0002", command.downgrade))
    assert await _run_sync(settings, _stored_args) == [args, args, {"A": "1"}]


# Columns the models map that come after 0002 (in 0009): the factories' inserts at 0002
# need them, and they go again before the upgrade adds them.
_LATER_COLUMNS = (
    ("accounts", "registry_password_hash", "VARCHAR(255)"),
    ("builds", "registry_secret_hash", "VARCHAR(64)"),
    ("image_repositories", "visibility", "VARCHAR(16) DEFAULT 'private'"),
)


def _add_later_columns(connection: Connection) -> None:
    for table, column, type_ in _LATER_COLUMNS:
        connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {type_}"))


def _drop_later_columns(connection: Connection) -> None:
    for table, column, _ in _LATER_COLUMNS:
        connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def _stored_args(connection: Connection) -> list[Any]:
    """build_args of every rule, then of every build (in id order)."""
    rules = connection.execute(select(BuildRule.build_args).order_by(BuildRule.id)).scalars()
    builds = connection.execute(select(Build.build_args).order_by(Build.id)).scalars()
    return [*rules, *builds]


def _to_0008_with_rows(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "0008")
    for account_id, name in ((1, "alpha"), (2, "beta"), (3, "gamma")):
        connection.execute(
            text(
                "INSERT INTO accounts (id, name, gitlab_repository_count, created_at) "
                "VALUES (:id, :name, 0, CURRENT_TIMESTAMP)"
            ),
            {"id": account_id, "name": name},
        )
    # alpha used "alpha" first; beta then created alpha/app too (the overwrite).
    for repository_id, account_id, namespace, name in (
        (1, 1, "alpha", "app"),
        (2, 2, "alpha", "app"),
        (3, 2, "beta", "web"),
        (4, 3, "gamma", "x"),
        (5, 1, "gamma", "y"),
    ):
        connection.execute(
            text(
                "INSERT INTO image_repositories (id, account_id, namespace, name, provider, "
                "source_repository, source_repository_id, clone_url, auto_build, hook_key, "
                "hook_secret_encrypted, created_at) VALUES (:id, :account, :ns, :name, "
                "'gitlab', 'g/p', '1', 'http://x/g/p.git', true, :key, 'c', CURRENT_TIMESTAMP)"
            ),
            {
                "id": repository_id,
                "account": account_id,
                "ns": namespace,
                "name": name,
                "key": f"k{repository_id}",
            },
        )


async def test_namespaces_go_to_their_first_user_and_conflicts_are_reported(
    database_url: str, settings_for: Callable[[str], Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(database_url)
    await _run_sync(settings, _to_0008_with_rows)

    with caplog.at_level(logging.WARNING, logger="buildsvc.store.migrations"):
        await upgrade_database(settings)

    owners = await _run_sync(
        settings,
        lambda c: dict(c.execute(text("SELECT name, account_id FROM namespaces")).all()),
    )
    assert owners == {"alpha": 1, "beta": 2, "gamma": 3}
    warned = [r.getMessage() for r in caplog.records if r.name == "buildsvc.store.migrations"]
    assert len(warned) == 2
    assert "'alpha' went to account 1" in warned[0]
    assert "[2]" in warned[0]
    assert "'gamma' went to account 3" in warned[1]
    assert "[1]" in warned[1]
    # Not merged: every repository is still there, with its own account.
    kept = await _run_sync(
        settings,
        lambda c: c.execute(text("SELECT count(*) FROM image_repositories")).scalar_one(),
    )
    assert kept == 5
    visibility = await _run_sync(
        settings,
        lambda c: set(c.execute(text("SELECT visibility FROM image_repositories")).scalars()),
    )
    assert visibility == {"private"}
