"""Token health, the marking half: a binding whose token the forge refuses turns ``broken``.

Every forge client opened for a stored binding (``SourceAccess.open``) is a
``WatchedClient``. When one of its calls fails because the forge refused the token
(``SourceError.refusal``, decided at the adapter boundary), the binding is marked broken
with the reason before the error goes on to the caller. What counts:

- ``credentials`` (401: wrong, expired or revoked token): on every call;
- ``scope`` (a 403 the forge says is about the token's scopes): on the reads every use
  needs (pickers, repository, hook and commit lookups, ref resolution); not on hook
  writes or commit statuses, which a token may be unable to do while its builds work.

The worker marks it too when git refuses the token on clone (``clone_refused``).

Marking is conditional on the stored token still being the one that failed (its
ciphertext; Fernet never encrypts twice alike), so a call failing while the user re-binds
never marks the new token broken. The first reason stays until re-binding (or a passing
``POST /api/v1/sources/{provider}/check``) sets the binding ``ok`` again. A broken
binding's builds fail at once with ``SOURCE_BINDING_BROKEN`` and the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.bindings.errors import SourceBindingBroken
from buildsvc.errors import SourceError
from buildsvc.sources import CommitState, Hook, Namespace, SourceClient, SourceRepository
from buildsvc.store.models import SourceBinding

log = logging.getLogger(__name__)

T = TypeVar("T")
OK = "ok"
BROKEN = "broken"
MAX_REASON = 1000
# What git prints when the forge answers 401 to the token (a 403 is a permission).
_GIT_CREDENTIALS_REFUSED = (
    "authentication failed",
    "http basic: access denied",
    "returned error: 401",
    "invalid username or password",
)


def broken_error(row: SourceBinding) -> SourceBindingBroken:
    return SourceBindingBroken(detail=row.broken_reason or f"the {row.provider} binding is broken")


def clone_refused(detail: str | None) -> bool:
    """Whether a failed git fetch says the forge refused the credentials."""
    lowered = (detail or "").lower()
    return any(pattern in lowered for pattern in _GIT_CREDENTIALS_REFUSED)


async def mark_broken(
    sessionmaker: async_sessionmaker[AsyncSession],
    binding_id: int,
    token_encrypted: str,
    reason: str,
) -> bool:
    """Mark the binding broken unless its token changed or it is broken already."""
    async with sessionmaker.begin() as session:
        result = await session.execute(
            update(SourceBinding)
            .where(
                SourceBinding.id == binding_id,
                SourceBinding.token_encrypted == token_encrypted,
                SourceBinding.status != BROKEN,
            )
            .values(status=BROKEN, broken_reason=reason[:MAX_REASON])
            .execution_options(synchronize_session=False)
        )
    marked = bool(getattr(result, "rowcount", 0))
    if marked:
        log.warning("source binding %s marked broken: %s", binding_id, reason)
    return marked


async def note_clone_refusal(
    sessionmaker: async_sessionmaker[AsyncSession], row: SourceBinding, detail: str | None
) -> None:
    """After a failed git fetch: mark the binding broken if git says the token was refused."""
    if not clone_refused(detail):
        return
    try:
        await mark_broken(
            sessionmaker, row.id, row.token_encrypted, f"refused on git clone: {detail}"
        )
    except Exception:  # the build's own error matters more than the mark
        log.exception("could not mark source binding %s broken", row.id)


class WatchedClient:
    """A ``SourceClient`` that marks its binding broken when the forge refuses the token."""

    def __init__(
        self,
        inner: SourceClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        row: SourceBinding,
    ) -> None:
        self._inner = inner
        self._sessionmaker = sessionmaker
        self._binding_id = row.id
        self._token_encrypted = row.token_encrypted

    async def _watch(self, what: str, call: Awaitable[T], *, scope: bool = True) -> T:
        try:
            return await call
        except SourceError as exc:
            if exc.refusal == "credentials" or (scope and exc.refusal == "scope"):
                reason = f"refused while {what}: {exc.detail or exc.message}"
                try:
                    await mark_broken(
                        self._sessionmaker, self._binding_id, self._token_encrypted, reason
                    )
                except Exception:  # the forge's error matters more than the mark
                    log.exception("could not mark source binding %s broken", self._binding_id)
            raise

    async def list_namespaces(self) -> list[Namespace]:
        return await self._watch("listing namespaces", self._inner.list_namespaces())

    async def list_repositories(self, namespace: str) -> list[SourceRepository]:
        return await self._watch("listing repositories", self._inner.list_repositories(namespace))

    async def get_repository(self, full_path: str) -> SourceRepository:
        return await self._watch(f"reading {full_path}", self._inner.get_repository(full_path))

    async def create_hook(self, full_path: str, url: str, secret: str) -> Hook:
        call = self._inner.create_hook(full_path, url, secret)
        return await self._watch(f"creating the hook of {full_path}", call, scope=False)

    async def get_hook(self, full_path: str, hook_id: str) -> Hook | None:
        call = self._inner.get_hook(full_path, hook_id)
        return await self._watch(f"reading the hook of {full_path}", call)

    async def delete_hook(self, full_path: str, hook_id: str) -> None:
        call = self._inner.delete_hook(full_path, hook_id)
        await self._watch(f"deleting the hook of {full_path}", call, scope=False)

    async def resolve_ref(self, full_path: str, ref: str) -> str:
        call = self._inner.resolve_ref(full_path, ref)
        return await self._watch(f"resolving {ref} in {full_path}", call)

    async def commit_message(self, full_path: str, sha: str) -> str:
        call = self._inner.commit_message(full_path, sha)
        return await self._watch(f"reading commit {sha[:12]} of {full_path}", call)

    async def set_commit_status(
        self,
        full_path: str,
        sha: str,
        state: CommitState,
        *,
        context: str,
        target_url: str,
        description: str,
    ) -> None:
        call = self._inner.set_commit_status(
            full_path, sha, state, context=context, target_url=target_url, description=description
        )
        await self._watch(f"setting a commit status on {full_path}", call, scope=False)
