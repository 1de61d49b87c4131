"""Test data for the webhooks tests: payloads written for this project under
``tests/webhooks/payloads/`` (following each forge's documented structure), and delivery helpers."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from webhooks import PingEvent, PushEvent

PAYLOADS = Path(__file__).resolve().parents[1] / "webhooks" / "payloads"
ZERO = "0" * 40


def load(name: str) -> dict[str, Any]:
    """A payload fixture as a dict, e.g. ``load("github/push_branch.json")``."""
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_bytes())
    return data


def encode(data: Any) -> bytes:
    """Compact JSON, as the forges send it."""
    return json.dumps(data, separators=(",", ":")).encode()


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def only_push(events: list[PushEvent | PingEvent]) -> PushEvent:
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, PushEvent)
    return event
