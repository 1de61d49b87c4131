"""Errors of replication rules and of copying images between registries.

ServiceError (buildsvc.errors)
├── InvalidInput
│   ├── InvalidReplicationRule      400 INVALID_REPLICATION_RULE (detail names the field)
│   └── DestinationNotAllowed       400 REPLICATION_URL_NOT_ALLOWED (blocked address)
├── NotFound
│   └── ReplicationRuleNotFound     404 REPLICATION_RULE_NOT_FOUND
└── CopyFailed                      502 REPLICATION_FAILED
    ├── Superseded                  409 REPLICATION_SUPERSEDED (a newer plan of the tag)
    ├── RegistryUnreachable         503 REGISTRY_UNREACHABLE (network, 5xx, 429: retried)
    └── RegistryRefused             502 REGISTRY_REFUSED (a 4xx: ``registry_code`` is the
                                    registry's own error code, e.g. UNAUTHORIZED, DENIED)

A copy failure records ``registry_code`` on the replication's status row, so a user reads
the destination's (or source's) own words, not only ours.
"""

from __future__ import annotations

from buildsvc.errors import InvalidInput, NotFound, ServiceError


class InvalidReplicationRule(InvalidInput):
    code = "INVALID_REPLICATION_RULE"
    default_message = "A replication rule is not valid."


class DestinationNotAllowed(InvalidInput):
    code = "REPLICATION_URL_NOT_ALLOWED"
    default_message = "The destination registry's address may not be contacted."


class ReplicationRuleNotFound(NotFound):
    code = "REPLICATION_RULE_NOT_FOUND"
    default_message = "Replication rule not found."


class CopyFailed(ServiceError):
    """Copying an image failed; ``registry_code`` is what the registry said, if anything."""

    code = "REPLICATION_FAILED"
    status = 502
    default_message = "Copying the image to the destination registry failed."
    transient = False

    def __init__(self, *, detail: str | None = None, registry_code: str | None = None) -> None:
        super().__init__(detail=detail)
        self.registry_code = registry_code or self.code


class Superseded(CopyFailed):
    """The tag was planned again while this copy ran: the newer copy puts the tag."""

    code = "REPLICATION_SUPERSEDED"
    status = 409
    default_message = "A newer copy of this tag replaced this one."


class RegistryUnreachable(CopyFailed):
    """No answer, or one saying "later" (5xx, 429): worth another attempt."""

    code = "REGISTRY_UNREACHABLE"
    status = 503
    # The words of ``registry.errors.RegistryUnreachable``: one code, one message.
    default_message = "The registry could not be reached. Please try again later."
    transient = True


class RegistryRefused(CopyFailed):
    code = "REGISTRY_REFUSED"
    default_message = "A registry refused the copy."
