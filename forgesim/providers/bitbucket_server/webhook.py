"""Bitbucket Server's ``repo:refs_changed`` (one delivery per push, one ``changes``
entry per ref: ``ADD`` / ``UPDATE`` / ``DELETE`` with all-zero hashes marking creation
and deletion) and the ``diagnostics:ping`` test delivery.

Payloads follow the current server's (no ``links``: clone URLs are the client's to
build). Headers: ``X-Event-Key``, ``X-Request-Id`` and, when the hook has a secret,
``X-Hub-Signature: sha256=<hex HMAC of the body>``. Dates are local-time strings with
a colon-less offset (``2023-05-30T15:40:47+0000``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import uuid
from typing import Any

from forgesim.core import Core
from forgesim.models import Hook
from forgesim.provider import Outgoing
from forgesim.providers.bitbucket_server.shapes import BUILD_NUMBER, VERSION, Json, Shapes
from forgesim.pushes import Push, RefChange

EVENT = "repo:refs_changed"
PING = "diagnostics:ping"
USER_AGENT = f"Atlassian HttpClient 4.2.0 / Bitbucket-{VERSION} ({BUILD_NUMBER}) / Default"


def signed(hook: Hook, event: str, payload: Any) -> Outgoing:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Event-Key": event,
        "X-Request-Id": str(uuid.uuid4()),
    }
    if hook.secret:
        digest = hmac.new(hook.secret.encode(), body, "sha256").hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
    return Outgoing(event, headers, body)


def ping(hook: Hook) -> Outgoing:
    return signed(hook, PING, {"test": True})


def _change(change: RefChange) -> Json:
    kind = "TAG" if change.is_tag else "BRANCH"
    return {
        "ref": {"id": change.ref, "displayId": change.short_name, "type": kind},
        "refId": change.ref,
        "fromHash": change.before,
        "toHash": change.after,
        "type": "ADD" if change.created else "DELETE" if change.deleted else "UPDATE",
    }


def payload(core: Core, push: Push) -> Json:
    shapes = Shapes(core)
    now = dt.datetime.now(dt.UTC)
    return {
        "eventKey": EVENT,
        "date": now.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "actor": shapes.user(push.pusher, with_links=False),
        "repository": shapes.payload_repository(push.repo),
        "changes": [_change(c) for c in push.changes if c.is_branch or c.is_tag],
    }


def format_push(core: Core, push: Push, hook: Hook) -> list[Outgoing]:
    if not hook.active or EVENT not in hook.attrs.get("events", []):
        return []
    if not any(c.is_branch or c.is_tag for c in push.changes):
        return []
    return [signed(hook, EVENT, payload(core, push))]
