"""What every provider module shares: headers, JSON decoding, typed field access and
sha normalisation.

Leniency policy: a field that decides what gets built (ref, shas, repository) must be
present and well-formed, or the payload is ``InvalidPayload``. Descriptive fields
(pusher, commit author, timestamps, URLs) degrade to ``None`` when malformed: a push
must not be dropped because a forge sent an odd commit date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pydantic_core
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from webhooks._depth import MAX_JSON_DEPTH, json_too_deep
from webhooks._errors import InvalidPayload, UnsupportedEvent
from webhooks._models import Provider

JSONObject = dict[str, Any]

SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_TIMESTAMP = TypeAdapter(AwareDatetime)


class Headers:
    """A case-insensitive, read-only view of request headers, built once per call.

    Look-ups take the lowercase name. Non-string keys or values (a caller bug) are
    ignored rather than crashing the parser.
    """

    __slots__ = ("_values",)

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._values = {
            key.lower(): value
            for key, value in raw.items()
            if isinstance(key, str) and isinstance(value, str)
        }

    def get(self, name: str) -> str | None:
        return self._values.get(name)


def require_header(provider: Provider, headers: Headers, name: str) -> str:
    value = headers.get(name.lower())
    if value is None or not value.strip():
        raise InvalidPayload(
            f"{provider} delivery without a {name} header",
            provider=provider,
            reason="missing_header",
        )
    return value.strip()


def unsupported_event(provider: Provider, event: str) -> UnsupportedEvent:
    shown = event[:80]  # attacker-controlled: keep messages bounded
    return UnsupportedEvent(
        f"{provider} event {shown!r} is not a push or ping",
        provider=provider,
        reason="event",
        event=shown,
    )


def _too_deep(provider: Provider) -> InvalidPayload:
    return InvalidPayload(
        f"{provider} body nests deeper than {MAX_JSON_DEPTH} levels",
        provider=provider,
        reason="too_deep",
    )


def check_depth(provider: Provider, document: bytes | str) -> None:
    """Refuse a document nesting deeper than ``MAX_JSON_DEPTH`` before ``json`` parses it."""
    if json_too_deep(document):
        raise _too_deep(provider)


def load_object(provider: Provider, body: bytes | str) -> JSONObject:
    """Decode a JSON object; every decoding failure becomes ``InvalidPayload``.

    pydantic-core's parser is about twice as fast as ``json`` on webhook bodies and
    stops nesting past ``MAX_JSON_DEPTH`` itself. It refuses some inputs ``json`` accepts
    (lone surrogate escapes, non-UTF-8 encodings): those get a second, lenient try with
    ``json``, after ``check_depth``. Every pass is linear in the input size.
    """
    try:
        data = pydantic_core.from_json(body)
    except ValueError as strict:
        if "recursion limit exceeded" in str(strict):
            raise _too_deep(provider) from strict
        check_depth(provider, body)  # before json, which recurses ~1000 levels first
        try:
            data = json.loads(body)
        # JSONDecodeError, UnicodeDecodeError; RecursionError only if the check is wrong
        except (ValueError, RecursionError) as exc:
            raise InvalidPayload(
                f"{provider} body is not valid JSON", provider=provider, reason="not_json"
            ) from exc
    if not isinstance(data, dict):
        raise InvalidPayload(
            f"{provider} body is not a JSON object", provider=provider, reason="not_object"
        )
    return data


def obj(data: JSONObject | None, key: str) -> JSONObject | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, dict) else None


def string(data: JSONObject | None, key: str) -> str | None:
    """A non-empty string field, else None."""
    value = data.get(key) if data is not None else None
    return value if isinstance(value, str) and value else None


def text(data: JSONObject | None, key: str) -> str | None:
    """A string field, possibly empty, else None (what a strict ``str | None`` accepts)."""
    value = data.get(key) if data is not None else None
    return value if isinstance(value, str) else None


def array(data: JSONObject | None, key: str) -> list[Any] | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, list) else None


def flag(data: JSONObject | None, key: str) -> bool:
    return data is not None and data.get(key) is True


def first(*values: str | None) -> str | None:
    for value in values:
        if value is not None:
            return value
    return None


def bad_field(provider: Provider, what: str) -> InvalidPayload:
    return InvalidPayload(f"{provider} payload: {what}", provider=provider, reason="bad_field")


def missing_field(provider: Provider, what: str) -> InvalidPayload:
    return InvalidPayload(
        f"{provider} payload: {what} is missing", provider=provider, reason="missing_field"
    )


def object_id(provider: Provider, value: Any, what: str) -> str | None:
    """A 40/64-hex object id, lowercased; the all-zero id (no object) becomes None."""
    if not isinstance(value, str) or not SHA.fullmatch(value := value.lower()):
        raise bad_field(provider, f"{what} is not a 40 or 64 hex digit object id")
    return None if value.count("0") == len(value) else value


def commit_id(value: Any) -> str | None:
    """Lenient twin of ``object_id`` for commit entries: the lowercased id, else None."""
    if isinstance(value, str) and SHA.fullmatch(value := value.lower()):
        return value
    return None


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 string with an offset, parsed exactly as ``Commit`` parses it from
    JSON; anything else (numbers, naive or malformed strings) is None."""
    if not isinstance(value, str):
        return None
    try:
        return _TIMESTAMP.validate_strings(value)
    except ValidationError:
        return None


def http_url(value: Any) -> str | None:
    if isinstance(value, str) and value[:8].lower().startswith(("https://", "http://")):
        return value
    return None
