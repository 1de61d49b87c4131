"""Robot accounts: registry logins ``<account>+<name>`` for machines.

A robot has a random secret (shown once, stored as an argon2 hash) and only the
permissions it was given: one created without any can do nothing. Robots can be
disabled, given other permissions, have their secret rotated, expire, or be deleted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.registry.errors import InvalidRobotName, RobotExists, RobotNotFound
from buildsvc.registry.hashing import generate_robot_secret, hash_secret
from buildsvc.registry.permissions import Permission, check_permissions
from buildsvc.store.models import Account, Namespace, Robot

SEPARATOR = "+"
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_NAME_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Created:
    robot: Robot
    username: str
    secret: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class Change:
    permissions: list[Permission] | None = None
    disabled: bool | None = None
    expires_at: dt.datetime | None = None
    clear_expiry: bool = False


def username(account_name: str, robot_name: str) -> str:
    return f"{account_name}{SEPARATOR}{robot_name}"


def check_name(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidRobotName(
            detail=f"name: up to {MAX_NAME_LENGTH} lowercase letters and digits, "
            "single '.', '_' or '-' between them",
        )


async def _owned_namespaces(session: AsyncSession, account_id: int) -> set[str]:
    rows = await session.scalars(select(Namespace.name).where(Namespace.account_id == account_id))
    return set(rows.all())


async def _account_name(session: AsyncSession, account_id: int) -> str:
    name = await session.scalar(select(Account.name).where(Account.id == account_id))
    return str(name)


async def create(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    name: str,
    permissions: list[Permission],
    expires_at: dt.datetime | None = None,
) -> Created:
    check_name(name)
    secret = generate_robot_secret()
    digest = hash_secret(secret)
    try:
        async with sessionmaker.begin() as session:
            stored = check_permissions(permissions, await _owned_namespaces(session, account_id))
            robot = Robot(
                account_id=account_id,
                name=name,
                secret_hash=digest,
                permissions=stored,
                expires_at=expires_at,
                disabled=False,
            )
            session.add(robot)
            await session.flush()
            login = username(await _account_name(session, account_id), name)
    except IntegrityError as exc:
        raise RobotExists(detail=name) from exc
    return Created(robot, login, secret)


async def list_robots(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int
) -> tuple[str, list[Robot]]:
    """The account's name (robots log in as ``<account>+<name>``) and its robots."""
    async with sessionmaker() as session:
        robots = await session.scalars(
            select(Robot).where(Robot.account_id == account_id).order_by(Robot.name)
        )
        return await _account_name(session, account_id), list(robots.all())


async def _load(session: AsyncSession, account_id: int, name: str) -> Robot:
    robot = (
        await session.execute(
            select(Robot).where(Robot.account_id == account_id, Robot.name == name)
        )
    ).scalar_one_or_none()
    if robot is None:
        raise RobotNotFound(detail=name)
    return robot


async def get(sessionmaker: async_sessionmaker[AsyncSession], account_id: int, name: str) -> Robot:
    async with sessionmaker() as session:
        return await _load(session, account_id, name)


async def change(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, name: str, change: Change
) -> tuple[str, Robot]:
    """The account's name and the changed robot."""
    async with sessionmaker.begin() as session:
        robot = await _load(session, account_id, name)
        if change.permissions is not None:
            owned = await _owned_namespaces(session, account_id)
            robot.permissions = check_permissions(change.permissions, owned)
        if change.disabled is not None:
            robot.disabled = change.disabled
        if change.clear_expiry:
            robot.expires_at = None
        elif change.expires_at is not None:
            robot.expires_at = change.expires_at
        account_name = await _account_name(session, account_id)
    return account_name, robot


async def rotate(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, name: str
) -> Created:
    """A new secret; the old one stops working at once."""
    secret = generate_robot_secret()
    digest = hash_secret(secret)
    async with sessionmaker.begin() as session:
        robot = await _load(session, account_id, name)
        robot.secret_hash = digest
        login = username(await _account_name(session, account_id), name)
    return Created(robot, login, secret)


async def delete(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, name: str
) -> None:
    async with sessionmaker.begin() as session:
        await session.delete(await _load(session, account_id, name))
