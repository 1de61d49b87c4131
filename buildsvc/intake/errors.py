"""What a webhook delivery can be refused with (``intake.receive``).

ServiceError (buildsvc.errors)
├── NotFound
│   └── HookNotFound              404 HOOK_NOT_FOUND (no repository has this hook)
├── Unauthenticated
│   └── WebhookSignatureInvalid   401 WEBHOOK_SIGNATURE_INVALID (secret missing or wrong)
└── InvalidInput
    ├── WebhookPayloadInvalid     400 WEBHOOK_PAYLOAD_INVALID (body or headers malformed)
    └── InvalidJson               400 INVALID_JSON (``buildsvc.errors``: nested too deep)

The two webhook codes are those of the ``webhooks`` package's own errors, whose message
becomes the detail.
"""

from __future__ import annotations

import webhooks
from buildsvc.errors import InvalidInput, NotFound, Unauthenticated


class HookNotFound(NotFound):
    code = "HOOK_NOT_FOUND"
    default_message = "No such webhook."


class WebhookSignatureInvalid(Unauthenticated):
    code = webhooks.SignatureError.code
    default_message = "The webhook secret is missing or wrong."


class WebhookPayloadInvalid(InvalidInput):
    code = webhooks.InvalidPayload.code
    default_message = "The webhook payload is malformed."
