"""A secret build arg's value never reaches the database in clear: not in the rule, not in
the builds a push or the API queue from it, not in SQLite's WAL or free pages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from buildsvc.config import Settings
from buildsvc.secret_args import decrypt_secrets
from buildsvc.store.models import Base, Build
from buildsvc.web.keys import CIPHER, SESSIONMAKER
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    git_push,
    gitlab_fixture,
    link,
    served_client,
)
from tests.common.servers import flush_redis_db, free_port

REDIS_DB = 10
SECRET = "npm-token-0d1f5c9e7a3b"
PLAIN = "mode-prod-7c41"


@pytest.fixture(name="settings")
async def database_settings(settings: Settings, database_url: str) -> Settings:
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    await flush_redis_db(redis_url)
    return settings.model_copy(
        update={
            "database_url": database_url,
            "redis_url": redis_url,
            "public_url": f"http://127.0.0.1:{free_port()}",
        }
    )


async def stored_text(client: Client, settings: Settings) -> str:
    """Everything the database holds: SQLite's files as bytes (WAL and shared memory
    included), or every PostgreSQL row as text."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        files = sorted(database.parent.glob(f"{database.name}*"))
        assert {f.name for f in files} >= {database.name, f"{database.name}-wal"}
        return "".join([(await asyncio.to_thread(f.read_bytes)).decode("latin-1") for f in files])
    rows = []
    async with client.app[SESSIONMAKER]() as session:
        for table in Base.metadata.tables:
            row_text = f"SELECT CAST(t AS TEXT) FROM {table} AS t"  # noqa: S608  (our tables)
            found = await session.execute(text(row_text))
            rows.extend(str(row[0]) for row in found)
    assert rows
    return "\n".join(rows)


async def test_secret_build_arg_values_are_not_stored_in_clear(
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    settings: Settings,
    tmp_path: Path,
) -> None:
    await bind(client, auth_headers, gitlab)
    rules = [
        {
            "type": "branch",
            "pattern": "main",
            "tag": "latest",
            "build_args": {"MODE": PLAIN, "NPM_TOKEN": SECRET},
            "secret_build_args": ["NPM_TOKEN"],
        }
    ]
    repository = await link(client, auth_headers, gitlab, name="web", rules=rules)
    await git_push(gitlab, tmp_path / "work")
    [delivery] = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    assert delivery["status"] == 202
    started = await client.post(
        f"/api/v1/repositories/{repository['id']}/builds",
        json={"ref": "main"},
        headers=auth_headers,
    )
    assert started.status == 201, await started.text()

    stored = await stored_text(client, settings)
    assert PLAIN in stored  # what is not secret stays readable
    assert SECRET not in stored
    # Both builds carry the value for the worker, under the service's keys.
    async with client.app[SESSIONMAKER]() as session:
        builds = (await session.scalars(select(Build).order_by(Build.id))).all()
    assert [b.trigger for b in builds] == ["push", "api"]
    for build in builds:
        opened = decrypt_secrets(client.app[CIPHER], build.build_args, build.secret_build_args)
        assert opened == {"MODE": PLAIN, "NPM_TOKEN": SECRET}

    shown = await client.get(f"/api/v1/repositories/{repository['id']}", headers=auth_headers)
    [rule] = (await shown.json())["rules"]
    assert rule["build_args"] == {"MODE": PLAIN, "NPM_TOKEN": "****"}
