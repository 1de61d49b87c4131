"""Errors of image repositories, their build rules and their source links.

ServiceError (buildsvc.errors)
├── InvalidInput
│   ├── InvalidRule                 400 INVALID_RULE (detail names the rule and field)
│   ├── InvalidRef                  400 INVALID_REF (not a branch or tag)
│   └── InvalidRepositoryName       400 INVALID_NAME (namespace or name)
├── NotFound
│   └── RepositoryNotFound          404 REPOSITORY_NOT_FOUND
├── Conflict
│   ├── RepositoryExists            409 REPOSITORY_EXISTS
│   ├── HookChanged                 409 HOOK_CHANGED (another request re-created the hook)
│   └── NoSourceLinked              409 NO_SOURCE (a plain repository: pushed to, not built)
└── LimitExceeded
    └── RepositoryLimitExceeded     409 LIMIT_EXCEEDED

A missing forge binding is ``buildsvc.bindings.errors.SourceNotBound``.
"""

from __future__ import annotations

from buildsvc.errors import Conflict, InvalidInput, LimitExceeded, NotFound


class InvalidRule(InvalidInput):
    code = "INVALID_RULE"
    default_message = "A build rule is not valid."


class InvalidRef(InvalidInput):
    code = "INVALID_REF"
    default_message = "The ref is not a branch or tag."


class InvalidRepositoryName(InvalidInput):
    code = "INVALID_NAME"
    default_message = "The image repository name is not valid."


class RepositoryNotFound(NotFound):
    code = "REPOSITORY_NOT_FOUND"
    default_message = "Image repository not found."


class HookChanged(Conflict):
    code = "HOOK_CHANGED"
    default_message = "The hook was re-created meanwhile."


class RepositoryExists(Conflict):
    code = "REPOSITORY_EXISTS"
    default_message = "An image repository with this namespace and name already exists."


class NoSourceLinked(Conflict):
    code = "NO_SOURCE"
    default_message = (
        "This image repository has no source repository; images reach it by docker push."
    )


class RepositoryLimitExceeded(LimitExceeded):
    """The per-account cap on repositories linked to one provider."""

    @classmethod
    def gitlab(cls, limit: int) -> RepositoryLimitExceeded:
        return cls(f"Each account can have a maximum of {limit} GitLab source code repositories.")
