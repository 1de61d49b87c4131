"""The token server: Basic credentials and scopes in, a signed registry token out.

``TokenServer.issue`` is all ``GET /v2/token`` does after parsing. It answers
``BadCredentials`` (a bare 401 to the client) for wrong credentials, and for an anonymous
request with no scope: that is how ``docker login`` checks a password, so an anonymous
"login" must not pass. Every other request gets a token, granting what it may have of
what it asked (possibly nothing: the registry then refuses with ``denied``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.config import Settings
from buildsvc.registry import grants, plain
from buildsvc.registry.decisions import Decision, DecisionCache, key_of
from buildsvc.registry.principals import (
    BadCredentials,
    Credentials,
    VerifiedCache,
    authenticate,
    parse_basic,
)
from buildsvc.registry.scopes import Scope, parse_scopes
from buildsvc.registry.signing import KeyStore, SigningKey
from buildsvc.registry.throttle import LoginThrottle, RedisGetter
from buildsvc.registry.tokens import Access, HeaderForm, Issued, mint
from buildsvc.store.models import Robot, utcnow

log = logging.getLogger(__name__)

# Tokens stay verifiable this long after a newer key signs: lifetime plus the registry's
# 60 s leeway, with room.
RETIRE_MARGIN = dt.timedelta(minutes=5)
SERVICE_SUBJECT = "$buildsvc"  # the actor of buildsvc's own registry calls
SERVICE_TOKEN_LIFETIME = dt.timedelta(seconds=60)
# A robot's last_used_at is written at most this often (not a write per token request).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def key_store(settings: Settings) -> KeyStore:
    lifetime = dt.timedelta(seconds=settings.registry_token_lifetime_seconds)
    return KeyStore(
        registry_dir(settings), settings.registry_token_issuer, lifetime + RETIRE_MARGIN
    )


def registry_dir(settings: Settings) -> Path:
    return (settings.registry_key_dir or settings.data_dir / "registry").resolve()


def service_token(
    settings: Settings, key: SigningKey, access: list[Access], header_form: HeaderForm = "both"
) -> Issued:
    """A short-lived token for buildsvc's own registry calls (tags, deletes, replication
    reads, preflight), signed with ``key``: no password involved, only ``access``."""
    return mint(
        key,
        issuer=settings.registry_token_issuer,
        service=settings.registry_service,
        subject=SERVICE_SUBJECT,
        access=access,
        lifetime=SERVICE_TOKEN_LIFETIME,
        now=utcnow(),
        header_form=header_form,
    )


@dataclass(frozen=True, slots=True)
class TokenRequest:
    authorization: str | None
    scopes: Sequence[str]
    client_address: str | None


class TokenServer:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        reader: async_sessionmaker[AsyncSession],
        redis: RedisGetter,
        *,
        header_form: HeaderForm = "both",
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.reader = reader  # read-only: a token request reads in one deferred transaction
        self.keys = key_store(settings)
        self.key: SigningKey = self.keys.ensure()
        self.cache = VerifiedCache()
        self.decisions = DecisionCache(settings.registry_token_cache_seconds)
        self.throttle = LoginThrottle(redis)
        self.header_form = header_form
        self._robots_written: dict[int, dt.datetime] = {}

    def service_token(self, access: list[Access]) -> str:
        """A token for buildsvc's own calls to the registry (tags, deletes)."""
        return service_token(self.settings, self.key, access, self.header_form).token

    async def issue(self, request: TokenRequest) -> Issued:
        scopes = parse_scopes(request.scopes)
        credentials = parse_basic(request.authorization)
        if credentials is None and not request.scopes:
            raise BadCredentials("")
        key = key_of(credentials, scopes, request.client_address)
        decision = self.decisions.get(key)
        if decision is None:
            decision = await self._decide(credentials, scopes, request.client_address)
            self.decisions.put(key, decision)
        return mint(
            self.key,
            issuer=self.settings.registry_token_issuer,
            service=self.settings.registry_service,
            subject=decision.subject,
            access=list(decision.access),
            lifetime=dt.timedelta(seconds=self.settings.registry_token_lifetime_seconds),
            now=utcnow(),
            header_form=self.header_form,
        )

    async def _decide(
        self, credentials: Credentials | None, scopes: list[Scope], address: str | None
    ) -> Decision:
        failures = 0
        if credentials is not None:
            failures = await self.throttle.wait(credentials.login, address)
        try:
            async with self.reader() as session:
                principal = await authenticate(session, self.cache, credentials)
                granted = await grants.grant(session, principal, scopes, address)
        except BadCredentials as exc:
            await self.throttle.failed(exc.login, address)
            log.info("registry login refused", extra={"login": exc.login})
            raise
        if credentials is not None and failures:
            await self.throttle.succeeded(credentials.login, address)
        if principal.robot_id is not None:
            await self._robot_used(principal.robot_id)
        for owner_id, namespace, name in granted.to_create:
            await plain.ensure_for_push(self.sessionmaker, owner_id, namespace, name)
        return Decision(principal.login, tuple(granted.access))

    async def _robot_used(self, robot_id: int) -> None:
        """Record the robot's use, unless it was recorded within the resolution: this
        process remembers when it wrote, and the guarded UPDATE covers the others."""
        now = utcnow()
        written = self._robots_written.get(robot_id)
        if written is not None and now - written < LAST_USED_RESOLUTION:
            return
        self._robots_written[robot_id] = now
        cutoff = now - LAST_USED_RESOLUTION
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(Robot)
                .where(Robot.id == robot_id)
                .where(or_(Robot.last_used_at.is_(None), Robot.last_used_at <= cutoff))
                .values(last_used_at=now)
            )
