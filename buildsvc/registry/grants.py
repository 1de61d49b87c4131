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

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.registry import namespaces, plain
from buildsvc.registry.names import split_repository
from buildsvc.registry.permissions import actions_for
from buildsvc.registry.principals import Principal
from buildsvc.registry.scopes import ALL_ACTIONS, Scope
from buildsvc.registry.tokens import Access
from buildsvc.store.models import Namespace

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


async def _allowed(
    session: AsyncSession, principal: Principal, namespace: Namespace, name: str
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
    if "pull" not in allowed:
        repository = await plain.find_owned(session, namespace.account_id, namespace.name, name)
        if repository is not None and repository.visibility == "public":
            allowed.add("pull")
    return allowed


async def grant(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    scopes: Sequence[Scope],
    client_address: str | None,
) -> list[Access]:
    granted: list[Access] = []
    to_create: list[tuple[int, str, str]] = []
    async with sessionmaker() as session:
        for scope in scopes:
            if scope.type != "repository":
                continue
            parts = split_repository(scope.name)
            if parts is None:
                continue
            namespace = await namespaces.find(session, parts[0])
            if namespace is None:
                continue
            if not address_allowed(namespace.allowed_networks, client_address):
                continue
            allowed = await _allowed(session, principal, namespace, parts[1])
            actions = tuple(a for a in ALL_ACTIONS if a in scope.actions and a in allowed)
            if not actions:
                continue
            granted.append(Access("repository", scope.name, actions))
            if "push" in actions:
                to_create.append((namespace.account_id, parts[0], parts[1]))
    for owner_id, namespace_name, name in to_create:
        await plain.ensure_for_push(sessionmaker, owner_id, namespace_name, name)
    return granted
