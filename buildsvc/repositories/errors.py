"""Errors of image repositories, their build rules and their source links.

ServiceError (buildsvc.errors)
├── InvalidInput
│   └── InvalidRule                 400 INVALID_RULE (detail names the rule and field)
├── Conflict
│   ├── RepositoryExists            409 REPOSITORY_EXISTS
│   └── NoSourceLinked              409 NO_SOURCE (a plain repository: pushed to, not built)
└── LimitExceeded
    └── RepositoryLimitExceeded     409 LIMIT_EXCEEDED

A missing forge binding is ``buildsvc.bindings.errors.SourceNotBound``.
"""

from __future__ import annotations

from buildsvc.errors import Conflict, InvalidInput, LimitExceeded


class InvalidRule(InvalidInput):
    code = "INVALID_RULE"
    default_message = "A build rule is not valid."


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
