"""Opening forge clients for an account's stored binding.

``SourceAccess`` bundles what every forge-facing service needs (sessions, the cipher,
the providers, settings); the HTTP layer builds it from the application state. It turns
a stored ``SourceBinding`` row back into the provider's ``Binding`` and ``Credentials``
(token decrypted only here, only in memory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.bindings.errors import SourceNotBound, UnknownProvider
from buildsvc.bindings.watch import WatchedClient
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.errors import SourceError
from buildsvc.sources import (
    Binding,
    Credentials,
    ProviderName,
    SourceClient,
    SourceProvider,
)
from buildsvc.store.models import SourceBinding


@dataclass(frozen=True, slots=True)
class SourceAccess:
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: Cipher
    providers: Mapping[str, SourceProvider]
    settings: Settings

    def provider(self, name: str) -> SourceProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise UnknownProvider(
                f"Unknown code source {name[:40]!r}.",
                detail=f"available: {', '.join(sorted(self.providers)) or 'none'}",
            )
        return provider

    def restore(self, row: SourceBinding) -> tuple[Binding, Credentials]:
        name = cast(ProviderName, row.provider)
        binding = Binding(
            provider=name,
            url=row.url,
            api_url=row.api_url,
            api_version=row.api_version,
            username=row.username,
            user_id=row.forge_user_id,
            scopes=tuple(str(scope) for scope in row.scopes),
            expires_at=row.expires_at,
        )
        credentials = Credentials(
            provider=name,
            url=row.url,
            username=row.username,
            token=self.cipher.decrypt(row.token_encrypted),
            ca_cert=row.ca_cert,
        )
        return binding, credentials

    def open(self, row: SourceBinding) -> SourceClient:
        """A client whose token refusals mark the binding broken (``bindings.watch``)."""
        binding, credentials = self.restore(row)
        client = self.provider(row.provider).client(binding, credentials)
        return WatchedClient(client, self.sessionmaker, row)

    async def find(self, account_id: int, provider: str) -> SourceBinding | None:
        async with self.sessionmaker() as session:
            return await binding_row(session, account_id, provider)

    async def client_for(self, account_id: int, provider: str) -> SourceClient:
        """A client for the account's binding of ``provider``; SOURCE_NOT_BOUND without one."""
        self.provider(provider)
        row = await self.find(account_id, provider)
        if row is None:
            raise SourceNotBound(detail=f"no {provider} account is bound; POST /api/v1/sources")
        return self.open(row)


async def binding_row(
    session: AsyncSession, account_id: int, provider: str
) -> SourceBinding | None:
    statement = select(SourceBinding).where(
        SourceBinding.account_id == account_id, SourceBinding.provider == provider
    )
    return (await session.execute(statement)).scalar_one_or_none()


def unprocessable(exc: SourceError) -> SourceError:
    """The same forge error answered 422: what the user entered (binding, repository,
    permissions on the forge) must change, the service did not fail."""
    if exc.status == 422:
        return exc
    return type(exc)(exc.message, detail=exc.detail, status=422)


def expiry_warning(expires_at: dt.date | None, today: dt.date, days: int) -> str | None:
    """A warning when the token expires within ``days`` (or has expired)."""
    if expires_at is None:
        return None
    left = (expires_at - today).days
    if left < 0:
        return f"The token expired on {expires_at.isoformat()}; bind a new token."
    if left <= days:
        when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
        return f"The token expires on {expires_at.isoformat()} ({when}); bind a new token."
    return None
