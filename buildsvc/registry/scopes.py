"""Token request scopes: ``repository:ns/app:pull,push``, ``registry:catalog:*``.

The type ends at the first ':' and the actions start after the last one, so a name may
hold ':' (Distribution's resource classes aside). A parameter may also hold several
scopes separated by spaces (OAuth style); docker repeats the parameter instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ALL_ACTIONS = ("pull", "push", "delete")


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]


def parse_scope(text: str) -> Scope | None:
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    wanted = {a for a in actions.split(",") if a}
    if "*" in wanted:  # "every action": ours are these three
        wanted = (wanted - {"*"}) | set(ALL_ACTIONS)
    return Scope(kind, name, frozenset(wanted))


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every well-formed scope, merged per resource, in first-asked order."""
    merged: dict[tuple[str, str], set[str]] = {}
    for value in values:
        for text in value.split():
            scope = parse_scope(text)
            if scope is not None:
                merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(kind, name, frozenset(actions)) for (kind, name), actions in merged.items()]
