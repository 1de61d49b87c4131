"""Who may see and do what: membership levels inherited down the namespace tree."""

from __future__ import annotations

from collections.abc import Iterator

from forgesim.models import GUEST, REPORTER, Namespace, Repository, User
from forgesim.state import State


def ancestors(state: State, ns: Namespace) -> Iterator[Namespace]:
    """``ns`` itself, then its parent groups up to the root."""
    current: Namespace | None = ns
    while current is not None:
        yield current
        current = state.namespaces.get(current.parent_id) if current.parent_id else None


def namespace_level(state: State, user: User | None, ns: Namespace) -> int:
    if user is None:
        return 0
    return max((n.members.get(user.username, 0) for n in ancestors(state, ns)), default=0)


def repo_level(state: State, user: User | None, repo: Repository) -> int:
    """The user's effective access level on ``repo`` (0 when not a member)."""
    if user is None:
        return 0
    ns = state.namespaces[repo.namespace_id]
    return max(repo.members.get(user.username, 0), namespace_level(state, user, ns))


def can_see_repo(state: State, user: User | None, repo: Repository) -> bool:
    if user is not None and user.admin:
        return True
    return not repo.private or repo_level(state, user, repo) >= GUEST


def can_read_code(state: State, user: User | None, repo: Repository) -> bool:
    if user is not None and user.admin:
        return True
    return not repo.private or repo_level(state, user, repo) >= REPORTER


def can_see_namespace(state: State, user: User | None, ns: Namespace) -> bool:
    if ns.visibility == "public" or (user is not None and user.admin):
        return True
    if user is None:
        return False
    if namespace_level(state, user, ns) >= GUEST:
        return True
    # A member of a project inside a private group can see the group, as on GitLab.
    return any(
        repo_level(state, user, r) >= GUEST
        and ns in ancestors(state, state.namespaces[r.namespace_id])
        for r in state.repos.values()
    )


def in_namespace(state: State, repo: Repository, ns: Namespace, with_subgroups: bool) -> bool:
    if repo.namespace_id == ns.id:
        return True
    if not with_subgroups:
        return False
    return any(n.id == ns.id for n in ancestors(state, state.namespaces[repo.namespace_id]))
