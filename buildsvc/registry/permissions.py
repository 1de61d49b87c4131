"""Robot permissions: which actions on which repository or namespace.

Each entry names one repository (``"ns/app"``) or one namespace (``"ns"``) and a set of
actions out of pull, push and delete. A robot acts for its account, so an entry only
counts where the account itself holds the namespace (checked when stored, and again at
every grant since namespaces can be given up).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from buildsvc.registry.errors import InvalidPermission
from buildsvc.registry.names import is_component, split_repository

Action = Literal["pull", "push", "delete"]
ACTIONS: tuple[Action, ...] = ("pull", "push", "delete")
MAX_PERMISSIONS = 100


class Permission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str | None = Field(default=None, description="ns/name")
    namespace: str | None = None
    actions: list[Action] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> Permission:
        if (self.repository is None) == (self.namespace is None):
            raise ValueError("name exactly one of repository or namespace")
        return self

    @property
    def namespace_name(self) -> str:
        if self.namespace is not None:
            return self.namespace
        assert self.repository is not None  # the validator guarantees one of them
        return self.repository.split("/", 1)[0]

    def covers(self, namespace: str, name: str) -> bool:
        if self.namespace is not None:
            return self.namespace == namespace
        return self.repository == f"{namespace}/{name}"


def check_permissions(permissions: list[Permission], owned: set[str]) -> list[dict[str, Any]]:
    """Stored form of ``permissions``; each target must be well formed and in ``owned``."""
    if len(permissions) > MAX_PERMISSIONS:
        raise InvalidPermission(detail=f"permissions: at most {MAX_PERMISSIONS}")
    stored = []
    for index, permission in enumerate(permissions):
        where = f"permissions[{index}]"
        if permission.repository is not None and split_repository(permission.repository) is None:
            raise InvalidPermission(detail=f"{where}.repository: not a namespace/name")
        if permission.namespace is not None and not is_component(permission.namespace):
            raise InvalidPermission(detail=f"{where}.namespace: not a valid namespace")
        if permission.namespace_name not in owned:
            raise InvalidPermission(
                detail=f"{where}: this account does not hold namespace {permission.namespace_name}"
            )
        entry = permission.model_dump(exclude_none=True)
        entry["actions"] = [a for a in ACTIONS if a in permission.actions]
        stored.append(entry)
    return stored


def load_permissions(stored: list[Any]) -> list[Permission]:
    return [Permission.model_validate(entry) for entry in stored]


def actions_for(permissions: list[Permission], namespace: str, name: str) -> set[str]:
    allowed: set[str] = set()
    for permission in permissions:
        if permission.covers(namespace, name):
            allowed.update(permission.actions)
    return allowed
