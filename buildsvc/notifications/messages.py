"""What a target receives: a Standard Webhooks request, or a Slack message.

Webhook: the payload as JSON with the headers ``webhook-id`` (``msg_<delivery id>``, the
same for every attempt, so a receiver can drop repeats), ``webhook-timestamp`` (the
attempt's, in Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body`` with the target's ``whsec_`` secret), signed by the
``standardwebhooks`` library. Slack: ``{"text": ...}``, one line linking the build page.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook

JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": "buildsvc-notifications"}


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def build_page_url(public_url: str, build_id: int) -> str:
    return f"{public_url.rstrip('/')}/console/builds/{build_id}"


def with_links(payload: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    """The payload with its build's page URL (the service's public URL may change)."""
    data = dict(payload.get("data", {}))
    build = data.get("build")
    if isinstance(build, dict) and "id" in build:
        data["build"] = {**build, "url": build_page_url(public_url, int(build["id"]))}
    return {**payload, "data": data}


def webhook_request(
    payload: Mapping[str, Any], delivery_id: int, secret: str, at: dt.datetime
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    message_id = f"msg_{delivery_id}"
    signature = Webhook(secret).sign(message_id, at, body)
    headers = {
        **JSON_HEADERS,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def slack_request(payload: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"text": slack_text(payload)}).encode(), dict(JSON_HEADERS)


def _escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BUILD_VERBS = {
    "build.queued": "queued",
    "build.started": "started",
    "build.succeeded": "succeeded",
    "build.failed": "failed",
    "build.canceled": "was canceled",
}


def slack_text(payload: Mapping[str, Any]) -> str:
    """One line: what happened to which image, and a link to the build's page."""
    event = str(payload.get("type", ""))
    data: Mapping[str, Any] = payload.get("data", {})
    repository = data.get("repository", {})
    image = _escape(f"{repository.get('namespace')}/{repository.get('name')}")
    build: Mapping[str, Any] = data.get("build") or {}
    if event in _BUILD_VERBS:
        ref = _escape(str(build.get("ref_name", "")))
        sha = str(build.get("commit_sha", ""))[:7]
        text = f"Build #{build.get('id')} of {image} ({ref} @ {sha}) {_BUILD_VERBS[event]}"
        error = data.get("error")
        if event == "build.failed" and isinstance(error, Mapping):
            step = f" at {_escape(str(error['step']))}" if error.get("step") else ""
            text += f": {_escape(str(error.get('code')))}{step}"
        if event == "build.canceled" and data.get("reason") == "superseded":
            text += " (superseded by a newer build)"
    elif event == "image.pushed":
        text = f"Pushed {_escape(str(data.get('tag')))} ({data.get('digest')})"
    elif event == "tag.deleted":
        text = f"Deleted {_escape(str(data.get('tag')))} of {image}"
    else:
        text = f"Test notification from buildsvc for {image}"
    if "url" in build:
        text += f" <{build['url']}|build #{build.get('id')}>"
    return text
