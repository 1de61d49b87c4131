"""The service's error hierarchy.

Every error a user can cause or see is one of these. Each carries a stable
``code`` (what clients and tests match on), the user-facing ``message``, an
optional ``detail`` naming the cause (never a secret) and an HTTP ``status``.
One middleware (``buildsvc.web.middleware``) renders them as
``{"error": {"code", "message", "detail"}}``.

ServiceError
├── InvalidInput            400 VALIDATION_ERROR (subclasses name a more precise code)
│   └── InvalidJson         400 INVALID_JSON (a request or webhook body)
├── Unauthenticated         401 UNAUTHENTICATED
├── Forbidden               403 FORBIDDEN
├── NotFound                404 NOT_FOUND
├── Conflict                409 CONFLICT
├── LimitExceeded           409 LIMIT_EXCEEDED
├── PayloadTooLarge         413 PAYLOAD_TOO_LARGE
├── Unavailable             503 UNAVAILABLE
└── SourceError             502 SOURCE_ERROR: the two documented forge failures below
    ├── SourceUnreachable       SOURCE_UNREACHABLE
    └── SourceErrorResponse     SOURCE_ERROR_RESPONSE

Every error is a class: its code, status and default message are class attributes, and
a raise site gives at most the message and the detail. Each package draws its own
subtree in its ``errors`` module; ``tests/buildsvc/test_errors.py`` checks that each
code means one status and one default message across the whole tree.
"""

from __future__ import annotations

from typing import ClassVar

SOURCE_UNREACHABLE_MESSAGE = (
    "Failed to access the source code repository site. Please confirm that the account "
    "binding information is correct, or try again later."
)
SOURCE_ERROR_RESPONSE_MESSAGE = (
    "The source code repository site returns an error response. Please confirm that the "
    "account binding information is correct."
)


class ServiceError(Exception):
    """Root of every error the service reports to a user."""

    code: ClassVar[str] = "INTERNAL"
    # A class constant like the code; only ``SourceError`` refines it per instance.
    status: int = 500
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message if detail is None else f"{self.message} ({detail})")

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class InvalidInput(ServiceError):
    code = "VALIDATION_ERROR"
    status = 400
    default_message = "The request is not valid."


class Unauthenticated(ServiceError):
    code = "UNAUTHENTICATED"
    status = 401
    default_message = "A valid API token is required."


class Forbidden(ServiceError):
    code = "FORBIDDEN"
    status = 403
    default_message = "This action is not allowed."


class NotFound(ServiceError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Not found."


class Conflict(ServiceError):
    code = "CONFLICT"
    status = 409
    default_message = "The request conflicts with the current state."


class LimitExceeded(ServiceError):
    code = "LIMIT_EXCEEDED"
    status = 409
    default_message = "A limit of this account has been reached."


class InvalidJson(InvalidInput):
    code = "INVALID_JSON"
    default_message = "The request body is not valid JSON."


class PayloadTooLarge(ServiceError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    default_message = "The request body is too large."


class Unavailable(ServiceError):
    code = "UNAVAILABLE"
    status = 503
    default_message = "The service is temporarily unavailable. Please try again later."


class SourceError(ServiceError):
    """A failure talking to a forge. ``detail`` names the cause.

    The status is 502 (the forge, not the client, failed) unless the caller knows
    better: binding answers 422 because the binding information is what must change.

    ``refusal`` is set at the adapter boundary when the forge refused the token itself:
    ``"credentials"`` (wrong, expired or revoked) or ``"scope"`` (it lacks a scope or
    permission); None for every other failure, a missing permission on one repository
    included. Token health (``buildsvc.bindings.health``) marks bindings broken by it.

    The adapters raise one of the two leaves; this class is their common root.
    """

    code = "SOURCE_ERROR"
    status = 502
    default_message = "The source code repository site failed."
    refusal: str | None = None

    def __init__(
        self, message: str | None = None, *, detail: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        if status is not None:  # the one status a raise site may choose: 422 when binding
            self.status = status


class SourceUnreachable(SourceError):
    code = "SOURCE_UNREACHABLE"
    default_message = SOURCE_UNREACHABLE_MESSAGE


class SourceErrorResponse(SourceError):
    code = "SOURCE_ERROR_RESPONSE"
    default_message = SOURCE_ERROR_RESPONSE_MESSAGE
