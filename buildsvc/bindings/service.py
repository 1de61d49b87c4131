"""Binding code-source accounts: check with the forge, store encrypted, list, unbind.

A binding is one row per account and provider. Binding again with the same instance URL
replaces the token (how a user renews an expiring one); a different URL is refused while
image repositories still link to the old instance. Unbinding removes the push hooks this
service created (best effort: the ones it could not remove are listed by repository so
the user can delete them by hand), forgets the token, and leaves the repositories and
their build history in place, unlinked from any hook.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.bindings.access import SourceAccess, binding_row, expiry_warning, unprocessable
from buildsvc.bindings.errors import BindConflict, SourceInUse, SourceNotBound
from buildsvc.errors import SourceError
from buildsvc.sources import Credentials, Namespace, SourceRepository
from buildsvc.store.models import ImageRepository, SourceBinding

UNBIND_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class BindingView:
    row: SourceBinding
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HookLeft:
    repository: str  # the image repository, namespace/name
    source_repository: str
    hook_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class UnbindResult:
    provider: str
    hooks_removed: int
    hooks_not_removed: list[HookLeft] = field(default_factory=list)


def _view(access: SourceAccess, row: SourceBinding, extra: tuple[str, ...] = ()) -> BindingView:
    today = dt.datetime.now(dt.UTC).date()
    warning = expiry_warning(row.expires_at, today, access.settings.token_expiry_warning_days)
    warnings = tuple(w for w in extra if w != warning) + ((warning,) if warning else ())
    return BindingView(row, warnings)


async def bind(access: SourceAccess, account_id: int, credentials: Credentials) -> BindingView:
    """Check ``credentials`` with the forge and store them; 422 when the forge says no."""
    provider = access.provider(credentials.provider)
    try:
        binding = await provider.bind(credentials)
    except SourceError as exc:
        raise unprocessable(exc) from exc
    try:
        async with access.sessionmaker.begin() as session:
            row = await binding_row(session, account_id, binding.provider)
            if row is None:
                row = SourceBinding(account_id=account_id, provider=binding.provider)
                session.add(row)
            elif row.url != binding.url and await _linked_count(session, account_id, row):
                raise SourceInUse(
                    detail=f"unbind {row.url} first, or bind the same URL to renew the token",
                )
            row.url = binding.url
            row.api_url = binding.api_url
            row.api_version = binding.api_version
            row.username = binding.username
            row.forge_user_id = binding.user_id
            row.token_encrypted = access.cipher.encrypt(credentials.token)
            row.token_last4 = credentials.token[-4:]
            row.ca_cert = credentials.ca_cert
            row.scopes = list(binding.scopes)
            row.expires_at = binding.expires_at
            row.status = "ok"
            row.broken_reason = None
    except IntegrityError as exc:  # a concurrent bind of the same provider won
        raise BindConflict(detail="another bind ran at the same time") from exc
    return _view(access, row, binding.warnings)


async def _linked_count(session: AsyncSession, account_id: int, row: SourceBinding) -> int:
    statement = select(func.count(ImageRepository.id)).where(
        ImageRepository.account_id == account_id, ImageRepository.provider == row.provider
    )
    return int((await session.execute(statement)).scalar_one())


async def list_bindings(access: SourceAccess, account_id: int) -> list[BindingView]:
    async with access.sessionmaker() as session:
        statement = (
            select(SourceBinding)
            .where(SourceBinding.account_id == account_id)
            .order_by(SourceBinding.provider)
        )
        rows = (await session.execute(statement)).scalars().all()
    return [_view(access, row) for row in rows]


async def unbind(access: SourceAccess, account_id: int, provider: str) -> UnbindResult:
    access.provider(provider)
    async with access.sessionmaker() as session:
        row = await binding_row(session, account_id, provider)
        if row is None:
            raise SourceNotBound(f"No {provider} account is bound.")
        statement = select(ImageRepository).where(
            ImageRepository.account_id == account_id,
            ImageRepository.provider == provider,
            ImageRepository.forge_hook_id.is_not(None),
        )
        repositories = (await session.execute(statement)).scalars().all()
    left = await _remove_hooks(access, row, repositories)
    async with access.sessionmaker.begin() as session:
        # Without the token no hook can be managed any more: every link is cut.
        await session.execute(
            update(ImageRepository)
            .where(ImageRepository.account_id == account_id, ImageRepository.provider == provider)
            .values(forge_hook_id=None)
        )
        bound = await binding_row(session, account_id, provider)
        if bound is not None:
            await session.delete(bound)
    return UnbindResult(provider, len(repositories) - len(left), left)


async def _remove_hooks(
    access: SourceAccess, row: SourceBinding, repositories: Sequence[ImageRepository]
) -> list[HookLeft]:
    client = access.open(row)
    limit = asyncio.Semaphore(UNBIND_CONCURRENCY)
    left: list[HookLeft] = []

    async def remove(repo: ImageRepository) -> None:
        hook_id = repo.forge_hook_id or ""
        full_path = repo.source_repository
        if full_path is None:  # selected by provider, so never: plain ones have none
            return
        async with limit:
            try:
                await client.delete_hook(full_path, hook_id)
            except SourceError as exc:
                left.append(
                    HookLeft(
                        f"{repo.namespace}/{repo.name}",
                        full_path,
                        hook_id,
                        exc.detail or exc.message,
                    )
                )

    await asyncio.gather(*(remove(repo) for repo in repositories))
    return sorted(left, key=lambda hook: hook.repository)


async def list_namespaces(access: SourceAccess, account_id: int, provider: str) -> list[Namespace]:
    client = await access.client_for(account_id, provider)
    return await client.list_namespaces()


async def list_source_repositories(
    access: SourceAccess, account_id: int, provider: str, namespace: str
) -> list[SourceRepository]:
    client = await access.client_for(account_id, provider)
    return await client.list_repositories(namespace)
