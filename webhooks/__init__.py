"""Verify and parse GitHub, GitLab and Bitbucket push webhooks into one event model.

Pure library: bytes and headers in, typed events out; no I/O, no service imports.

    verify(provider, headers, body, secret)  # raises SignatureError
    events = parse(provider, headers, body)  # list[PushEvent | PingEvent]

Providers: ``github`` (github.com and GitHub Enterprise), ``gitlab``, ``bitbucket``
(Bitbucket Cloud) and ``bitbucket-server`` (Bitbucket Server / Data Center). Header
names are case-insensitive. Every failure is a ``WebhookError``; see ``_errors`` for
the tree and the stable codes.

``json_too_deep(document)`` is the depth check ``parse`` applies before decoding
(``MAX_JSON_DEPTH`` levels), public so that a service can hold every JSON body it
accepts to the same limit.
"""

from webhooks._api import parse, verify
from webhooks._depth import MAX_JSON_DEPTH, json_too_deep
from webhooks._errors import InvalidPayload, SignatureError, UnsupportedEvent, WebhookError
from webhooks._models import Commit, PingEvent, PushEvent

__all__ = [
    "MAX_JSON_DEPTH",
    "Commit",
    "InvalidPayload",
    "PingEvent",
    "PushEvent",
    "SignatureError",
    "UnsupportedEvent",
    "WebhookError",
    "json_too_deep",
    "parse",
    "verify",
]
