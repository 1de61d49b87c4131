"""The errors ``verify`` and ``parse`` raise, and nothing else.

WebhookError                 root: catch this to handle any webhook failure
├── SignatureError           WEBHOOK_SIGNATURE_INVALID   secret or signature missing or wrong
├── InvalidPayload           WEBHOOK_PAYLOAD_INVALID     body or headers malformed
└── UnsupportedEvent         WEBHOOK_EVENT_UNSUPPORTED   not a push or ping, or unknown provider

Every error carries a stable class ``code``, a finer stable ``reason`` (listed on each
class; tests and callers match on these, never on the English ``message``), the
``provider`` it concerns and, for ``UnsupportedEvent``, the ``event`` name received.
Messages never contain a secret or a signature.
"""

from __future__ import annotations

from typing import ClassVar


class WebhookError(Exception):
    """Root of every error of the ``webhooks`` package."""

    code: ClassVar[str] = "WEBHOOK_ERROR"

    def __init__(self, message: str, *, provider: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.reason = reason


class SignatureError(WebhookError):
    """The delivery is not authenticated by the hook's secret.

    reason: ``no_secret`` (empty secret given), ``missing`` (no signature/token header),
    ``malformed`` (header or ``whsec_`` secret not in the documented form),
    ``unsupported_algorithm`` (e.g. ``sha1=``), ``expired`` (Standard Webhooks timestamp
    outside the tolerance), ``mismatch`` (wrong signature or token).
    """

    code = "WEBHOOK_SIGNATURE_INVALID"


class InvalidPayload(WebhookError):
    """The body (or a header it depends on) is not what the provider documents.

    reason: ``missing_header``, ``not_json`` (undecodable or invalid), ``too_deep``
    (arrays and objects nested deeper than ``MAX_JSON_DEPTH``), ``not_object`` (JSON but
    not an object), ``missing_field``, ``bad_field``.
    """

    code = "WEBHOOK_PAYLOAD_INVALID"


class UnsupportedEvent(WebhookError):
    """A well-formed delivery this package does not turn into an event.

    reason: ``unknown_provider``, ``event`` (an event type other than push/ping, e.g.
    GitHub ``create``/``delete`` or GitLab ``System Hook``), ``ref`` (a push of refs
    other than branches and tags, e.g. ``refs/notes/*``).
    """

    code = "WEBHOOK_EVENT_UNSUPPORTED"

    def __init__(
        self, message: str, *, provider: str, reason: str, event: str | None = None
    ) -> None:
        super().__init__(message, provider=provider, reason=reason)
        self.event = event
