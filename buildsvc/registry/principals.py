"""Who asks the token server: an account (its registry password), one of its robots
(``<account>+<robot>`` and the robot's secret), a running build (``$build+<id>`` and the
secret its worker made, see ``buildsvc.builds.registry_login``), or anonymous.

Verifying a slow hash costs tens of milliseconds, and docker asks for a token per
repository and action set, so a verified credential is kept for ``CACHE_SECONDS``
(``VerifiedCache``): keyed by login and a SHA-256 of the password, and honoured only while
the stored hash is still the one it was verified against, so a changed password or
rotated secret stops working at once. An API token is never a registry password: it is
simply checked as one, and fails. A login that names no account (or one without a
registry password) is checked against a dummy hash, so the answer takes as long as for a
wrong password and does not tell which names exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import functools
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal, NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.builds import registry_login as build_login
from buildsvc.builds.states import RUNNING
from buildsvc.registry.hashing import hash_secret, verify_secret
from buildsvc.registry.permissions import Permission, load_permissions
from buildsvc.registry.robots import SEPARATOR
from buildsvc.store.models import Account, Build, ImageRepository, Robot, utcnow

CACHE_SECONDS = 60.0
CACHE_SIZE = 10_000
MAX_LOGIN_LENGTH = 256


class BadCredentials(Exception):
    """Credentials were sent and are wrong: the token server answers a bare 401."""

    def __init__(self, login: str) -> None:
        super().__init__("bad registry credentials")
        self.login = login


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["anonymous", "account", "robot", "build"]
    account_id: int | None = None
    login: str = ""
    permissions: tuple[Permission, ...] = field(default_factory=tuple)
    repository: tuple[str, str] | None = None  # a build's own (namespace, name)
    robot_id: int | None = None


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True, slots=True)
class Credentials:
    login: str
    password: str


def parse_basic(header: str | None) -> Credentials | None:
    """The Basic credentials in an Authorization header; None when there are none."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise BadCredentials("")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BadCredentials("") from exc
    login, sep, password = decoded.partition(":")
    if not sep or not login or len(login) > MAX_LOGIN_LENGTH:
        raise BadCredentials(login[:MAX_LOGIN_LENGTH])
    return Credentials(login, password)


class VerifiedCache:
    """Recently verified (login, password digest) -> the stored hash it matched."""

    def __init__(self, seconds: float = CACHE_SECONDS, size: int = CACHE_SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    @staticmethod
    def _key(credentials: Credentials) -> tuple[str, str]:
        digest = hashlib.sha256(credentials.password.encode("utf-8")).hexdigest()
        return credentials.login, digest

    def matches(self, credentials: Credentials, stored_hash: str) -> bool:
        key = self._key(credentials)
        entry = self._entries.get(key)
        if entry is None:
            return False
        known, until = entry
        if until < time.monotonic() or known != stored_hash:
            del self._entries[key]
            return False
        return True

    def remember(self, credentials: Credentials, stored_hash: str) -> None:
        key = self._key(credentials)
        self._entries[key] = (stored_hash, time.monotonic() + self.seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


async def _verify(cache: VerifiedCache, credentials: Credentials, stored_hash: str) -> bool:
    if cache.matches(credentials, stored_hash):
        return True
    # argon2 holds the CPU for tens of milliseconds: off the event loop.
    if await asyncio.to_thread(verify_secret, stored_hash, credentials.password):
        cache.remember(credentials, stored_hash)
        return True
    return False


@functools.cache
def _dummy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(16))


async def _refuse_unknown(credentials: Credentials) -> NoReturn:
    """Spend what a real verification costs, then refuse (no timing oracle on names)."""
    await asyncio.to_thread(verify_secret, _dummy_hash(), credentials.password)
    raise BadCredentials(credentials.login)


async def _robot(session: AsyncSession, login: str) -> tuple[Robot, str] | None:
    account_name, sep, robot_name = login.rpartition(SEPARATOR)
    if not sep:
        return None  # no query: most logins are accounts
    row = (
        await session.execute(
            select(Robot, Account.name)
            .join(Account, Account.id == Robot.account_id)
            .where(Account.name == account_name, Robot.name == robot_name)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def authenticate(
    session: AsyncSession,
    cache: VerifiedCache,
    credentials: Credentials | None,
    now: dt.datetime | None = None,
) -> Principal:
    """Who ``credentials`` are, read in the caller's (read-only) session."""
    if credentials is None:
        return ANONYMOUS
    login = credentials.login
    build_id = build_login.build_id_of(login)
    if build_id is not None:
        return await _build(session, build_id, credentials)
    found = await _robot(session, login)
    if found is not None:
        robot, _ = found
        if robot.disabled:
            raise BadCredentials(login)
        if robot.expires_at is not None and robot.expires_at <= (now or utcnow()):
            raise BadCredentials(login)
        if not await _verify(cache, credentials, robot.secret_hash):
            raise BadCredentials(login)
        permissions = tuple(load_permissions(robot.permissions))
        return Principal("robot", robot.account_id, login, permissions, robot_id=robot.id)
    account = (
        await session.execute(
            select(Account.id, Account.registry_password_hash).where(Account.name == login)
        )
    ).first()
    if account is None or account[1] is None:
        await _refuse_unknown(credentials)
    if not await _verify(cache, credentials, account[1]):
        raise BadCredentials(login)
    return Principal("account", int(account[0]), login)


async def _build(session: AsyncSession, build_id: int, credentials: Credentials) -> Principal:
    """A running build's own login (``builds.registry_login``); it ends with the build."""
    running = [status.value for status in RUNNING]
    row = (
        await session.execute(
            select(
                Build.account_id,
                Build.registry_secret_hash,
                ImageRepository.namespace,
                ImageRepository.name,
            )
            .join(ImageRepository, ImageRepository.id == Build.repository_id)
            .where(Build.id == build_id, Build.status.in_(running))
        )
    ).first()
    if row is None or not build_login.secret_matches(row[1], credentials.password):
        raise BadCredentials(credentials.login)
    return Principal("build", int(row[0]), credentials.login, repository=(row[2], row[3]))
