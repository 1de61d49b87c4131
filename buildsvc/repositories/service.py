"""Creating, changing and deleting image repositories, with their push hooks.

Creating one is all or nothing. In one database transaction: take a slot of the
account's per-provider limit (``UPDATE accounts SET n = n + 1 WHERE id = :id AND
n < :limit``: atomic on SQLite and PostgreSQL, so 150 concurrent creates under a limit of
100 yield exactly 100), insert the repository and its rules, create the hook on the forge,
commit. If the forge refuses, the transaction rolls back (slot and row with it); if the
commit fails after the hook exists, the hook is deleted again.

The hook delivers to ``{public_url}/webhooks/{provider}/{hook_key}`` with a random
per-repository secret (stored encrypted); ``hook_key`` is random too, so the URL reveals
nothing and cannot be guessed. The values of a rule's secret build args are stored
encrypted with the same keys (``secret_args``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.bindings.access import SourceAccess, unprocessable
from buildsvc.bindings.errors import SourceNotBound
from buildsvc.crypto import Cipher
from buildsvc.errors import InvalidInput, SourceError
from buildsvc.repositories import queries
from buildsvc.repositories.errors import RepositoryExists, RepositoryLimitExceeded
from buildsvc.repositories.links import linked
from buildsvc.repositories.schemas import (
    RepositoryCreate,
    RepositoryPatch,
    check_image_name,
    default_rules,
    prepare_rules,
)
from buildsvc.secret_args import encrypt_secrets
from buildsvc.sources import Hook, SourceClient
from buildsvc.store.models import Account, BuildRule, ImageRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Deleted:
    id: int
    hook_removed: bool
    detail: str | None = None  # why the hook could not be removed


def hook_url(public_url: str, provider: str, hook_key: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/{provider}/{hook_key}"


def rule_rows(cipher: Cipher, rules: list[dict[str, Any]]) -> list[BuildRule]:
    """``prepare_rules``' values as rows, secret build args encrypted (``secret_args``)."""
    return [
        BuildRule(
            **{
                **rule,
                "build_args": encrypt_secrets(
                    cipher, rule["build_args"], rule["secret_build_args"]
                ),
            }
        )
        for rule in rules
    ]


async def reserve_slot(session: AsyncSession, account_id: int, provider: str, limit: int) -> None:
    """Count a new repository against the account's limit, or LIMIT_EXCEEDED."""
    if provider != "gitlab":
        return
    result = await session.execute(
        update(Account)
        .where(Account.id == account_id, Account.gitlab_repository_count < limit)
        .values(gitlab_repository_count=Account.gitlab_repository_count + 1)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise RepositoryLimitExceeded.gitlab(limit)


async def release_slot(session: AsyncSession, account_id: int, provider: str | None) -> None:
    if provider != "gitlab":
        return
    await session.execute(
        update(Account)
        .where(Account.id == account_id, Account.gitlab_repository_count > 0)
        .values(gitlab_repository_count=Account.gitlab_repository_count - 1)
        .execution_options(synchronize_session=False)
    )


# Takes the namespace for the account in the caller's transaction, or raises (another
# account holds it). Passed in by the caller: namespaces belong to buildsvc.registry.
ClaimNamespace = Callable[[AsyncSession, int, str], Awaitable[object]]


async def create_repository(
    access: SourceAccess, account_id: int, spec: RepositoryCreate, claim: ClaimNamespace
) -> ImageRepository:
    check_image_name(spec.namespace, spec.name)
    if spec.source is None:
        raise InvalidInput(detail="source: required for a repository built from source")
    rules = prepare_rules(spec.rules) if spec.rules is not None else None
    provider = spec.source.provider
    client = await access.client_for(account_id, provider)
    try:
        source = await client.get_repository(spec.source.repository)
    except SourceError as exc:
        raise unprocessable(exc) from exc
    if rules is None:
        rules = prepare_rules(default_rules(source.default_branch))
    hook_key = secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(32)
    settings = access.settings
    hook: Hook | None = None
    try:
        async with access.sessionmaker.begin() as session:
            await claim(session, account_id, spec.namespace)
            await reserve_slot(session, account_id, provider, settings.gitlab_repository_limit)
            repository = ImageRepository(
                account_id=account_id,
                namespace=spec.namespace,
                name=spec.name,
                provider=provider,
                source_repository=source.full_path,
                source_repository_id=source.id,
                clone_url=source.clone_url,
                default_branch=source.default_branch,
                auto_build=spec.auto_build,
                visibility=spec.visibility,
                hook_key=hook_key,
                hook_secret_encrypted=access.cipher.encrypt(secret),
                rules=rule_rows(access.cipher, rules),
            )
            session.add(repository)
            await session.flush()
            url = hook_url(settings.public_url, provider, hook_key)
            hook = await client.create_hook(source.full_path, url, secret)
            repository.forge_hook_id = hook.id
    except BaseException as exc:
        if hook is not None:  # the commit failed after the forge made the hook
            await asyncio.shield(_drop_hook(client, source.full_path, hook.id))
        if isinstance(exc, IntegrityError):
            raise RepositoryExists(detail=f"{spec.namespace}/{spec.name}") from exc
        if isinstance(exc, SourceError):
            raise unprocessable(exc) from exc
        raise
    return repository


async def _drop_hook(client: SourceClient, full_path: str, hook_id: str) -> None:
    try:
        await client.delete_hook(full_path, hook_id)
    except SourceError as exc:
        log.warning("could not remove hook %s of %s: %s", hook_id, full_path, exc)


async def update_repository(
    access: SourceAccess, account_id: int, repository_id: int, patch: RepositoryPatch
) -> ImageRepository:
    rules = prepare_rules(patch.rules) if patch.rules is not None else None
    async with access.sessionmaker.begin() as session:
        repository = await queries.load(session, account_id, repository_id)
        if patch.auto_build is not None:
            repository.auto_build = patch.auto_build
        if patch.visibility is not None:
            repository.visibility = patch.visibility
        if rules is not None:
            # Queued builds keep their frozen copy; history keeps rule_id NULL.
            repository.rules = rule_rows(access.cipher, rules)
    return repository


async def delete_repository(access: SourceAccess, account_id: int, repository_id: int) -> Deleted:
    """Remove the hook (best effort, reported), then the repository and its history."""
    repository = await queries.get_repository(access.sessionmaker, account_id, repository_id)
    removed, detail = True, None
    link = linked(repository)
    if link is not None and repository.forge_hook_id is not None:
        try:
            client = await access.client_for(account_id, link.provider)
            await client.delete_hook(link.repository, repository.forge_hook_id)
        except (SourceError, SourceNotBound) as exc:
            removed, detail = False, exc.detail or exc.message
    async with access.sessionmaker.begin() as session:
        result = await session.execute(
            delete(ImageRepository).where(
                ImageRepository.id == repository_id, ImageRepository.account_id == account_id
            )
        )
        if cast(CursorResult[Any], result).rowcount != 1:  # a concurrent delete won
            raise queries.not_found(repository_id)
        await release_slot(session, account_id, repository.provider)
    return Deleted(repository_id, removed, detail)
