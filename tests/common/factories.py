"""Rows for tests, inserted in the caller's session with sensible defaults.

``await add_repository(session, account_id)`` and ``await add_build(session, account_id,
repository_id, status="building")``; keyword arguments override any column.
``build_rule(**columns)`` is a rule to pass in ``add_repository(..., rules=[...])``.
"""

from __future__ import annotations

import secrets
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.store.models import Account, Build, BuildRule, ImageRepository


class AccountInfo(NamedTuple):
    """What the ``account``/``make_account`` fixtures give: unpacks as ``(id, token)``."""

    id: int
    token: str


async def add_account(session: AsyncSession, name: str | None = None) -> Account:
    account = Account(name=name or f"acct-{secrets.token_hex(4)}")
    session.add(account)
    await session.flush()
    return account


async def add_repository(session: AsyncSession, account_id: int, **fields: Any) -> ImageRepository:
    values: dict[str, Any] = {
        "namespace": "team",
        "name": f"app-{secrets.token_hex(3)}",
        "provider": "gitlab",
        "source_repository": "group/project",
        "source_repository_id": "42",
        "clone_url": "http://127.0.0.1:8929/group/project.git",
        "default_branch": "main",
        "hook_key": secrets.token_urlsafe(16),
        "hook_secret_encrypted": "not-a-real-ciphertext",
    }
    values.update(fields)
    repository = ImageRepository(account_id=account_id, **values)
    session.add(repository)
    await session.flush()
    return repository


def build_rule(**fields: Any) -> BuildRule:
    values: dict[str, Any] = {"type": "branch", "pattern": "main", "tag": "latest"}
    values.update(fields)
    return BuildRule(**values)


async def add_build(
    session: AsyncSession, account_id: int, repository_id: int, **fields: Any
) -> Build:
    values: dict[str, Any] = {
        "trigger": "push",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "ref_name": "main",
        "commit_sha": secrets.token_hex(20),
        "commit_message": "Change things",
        "tags": ["127.0.0.1:5000/team/app:latest"],
    }
    values.update(fields)
    build = Build(account_id=account_id, repository_id=repository_id, **values)
    session.add(build)
    await session.flush()
    return build
