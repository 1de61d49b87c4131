"""The token server's rule: grant = asked ∩ allowed, per resource.

Allowed on ``repository:<ns>/<name>``, where ``<ns>`` is a held namespace:

- its owning account: pull, push, delete;
- a robot of that account: what its permissions give for that repository;
- a running build of that account: pull, push, delete on its own repository, pull on the
  account's others (base images);
- anyone, anonymous included: pull, if the owner's repository of that name is public;
- nobody, from a client address outside the namespace's ``allowed_networks``.

Anything else is granted nothing: other resource types (the catalog included), names
outside Distribution's grammar or our ``namespace/name`` shape, unheld namespaces. A
granted push to a name that does not exist yet creates that repository, private.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.registry.names import split_repository
from buildsvc.registry.permissions import actions_for
from buildsvc.registry.principals import Principal
from buildsvc.registry.scopes import ALL_ACTIONS, Scope
from buildsvc.registry.tokens import Access
from buildsvc.store.models import ImageRepository, Namespace

OWNER_ACTIONS = frozenset(ALL_ACTIONS)


def address_allowed(networks: Sequence[str], address: str | None) -> bool:
    if not networks:
        return True
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


@dataclass(frozen=True, slots=True)
class _Repository:
    id: int
    visibility: str


async def _namespace_and_repository(
    session: AsyncSession, namespace: str, name: str
) -> tuple[Namespace, _Repository | None] | None:
    """The held namespace and its owner's repository of that name, in one query (columns
    only: loading the entity would load its build rules too)."""
    owned = and_(
        ImageRepository.account_id == Namespace.account_id,
        ImageRepository.namespace == Namespace.name,
        ImageRepository.name == name,
    )
    row = (
        await session.execute(
            select(Namespace, ImageRepository.id, ImageRepository.visibility)
            .outerjoin(ImageRepository, owned)
            .where(Namespace.name == namespace)
        )
    ).first()
    if row is None:
        return None
    return row[0], None if row[1] is None else _Repository(row[1], row[2])


def _allowed(
    principal: Principal, namespace: Namespace, name: str, repository: _Repository | None
) -> set[str]:
    allowed: set[str] = set()
    if principal.account_id == namespace.account_id:
        if principal.kind == "account":
            allowed |= OWNER_ACTIONS
        elif principal.kind == "robot":
            allowed |= actions_for(list(principal.permissions), namespace.name, name)
        elif principal.kind == "build":
            # Its own repository fully (delete: the masked-secret cleanup); base images
            # from the account's other repositories: pull.
            own = principal.repository == (namespace.name, name)
            allowed |= OWNER_ACTIONS if own else {"pull"}
    if repository is not None and repository.visibility == "public":
        allowed.add("pull")
    return allowed


@dataclass(frozen=True, slots=True)
class Grant:
    access: list[Access]
    # (owner account, namespace, name) granted push that do not exist yet: the caller
    # creates them (plain.ensure_for_push) in a write transaction of its own.
    to_create: list[tuple[int, str, str]]


async def grant(
    session: AsyncSession,
    principal: Principal,
    scopes: Sequence[Scope],
    client_address: str | None,
) -> Grant:
    """What ``principal`` gets of ``scopes``, read in the caller's (read-only) session."""
    granted: list[Access] = []
    to_create: list[tuple[int, str, str]] = []
    for scope in scopes:
        if scope.type != "repository":
            continue
        parts = split_repository(scope.name)
        if parts is None:
            continue
        found = await _namespace_and_repository(session, *parts)
        if found is None:
            continue
        namespace, repository = found
        if not address_allowed(namespace.allowed_networks, client_address):
            continue
        allowed = _allowed(principal, namespace, parts[1], repository)
        actions = tuple(a for a in ALL_ACTIONS if a in scope.actions and a in allowed)
        if not actions:
            continue
        granted.append(Access("repository", scope.name, actions))
        if "push" in actions and repository is None:
            to_create.append((namespace.account_id, parts[0], parts[1]))
    return Grant(granted, to_create)
