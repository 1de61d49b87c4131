"""JSON in and out for handlers.

- ``await json_body(request, Model)``: the body parsed and validated, or 400
  (``INVALID_JSON`` for malformed JSON or JSON nested deeper than
  ``webhooks.MAX_JSON_DEPTH``, ``VALIDATION_ERROR`` naming every bad field).
- ``query_params(request, Model)``: the query string validated the same way.
- ``path_id(request, "build_id", "Build")``: a numeric path id; anything else is 404.
- ``json_response(data)``: pydantic models, dicts and lists; datetimes as ISO-8601 UTC.
- ``UtcDatetime``: the field type for datetimes in response models.

Validation details name fields and reasons but never echo input values, which may be
secrets (tokens, passwords).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ValidationError

import webhooks
from buildsvc.errors import InvalidInput, InvalidJson, NotFound

M = TypeVar("M", bound=BaseModel)


def to_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(to_utc)]


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(detail=describe_validation_error(exc)) from exc


async def json_body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    if not raw.strip():
        raise InvalidJson("The request body is empty; a JSON object is expected.")
    # Before parsing: json.loads, validation and json.dumps all recurse per level.
    if webhooks.json_too_deep(raw):
        raise InvalidJson(f"The request body nests deeper than {webhooks.MAX_JSON_DEPTH} levels.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(detail=str(exc)) from exc
    return validate(model, data)


def query_params(request: web.Request, model: type[M]) -> M:
    # Last value wins for repeated keys; empty values count as absent.
    data = {key: value for key, value in request.query.items() if value != ""}
    return validate(model, data)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dt.datetime):
        return to_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> str:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return json.dumps(data, default=_default, ensure_ascii=False, separators=(",", ":"))


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=dumps(data), status=status, headers=headers, content_type="application/json"
    )


def path_id(request: web.Request, name: str, what: str) -> int:
    """A numeric id from the path; anything else cannot name a row, so 404."""
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"{what} {raw[:40]!r} not found.")
    return int(raw)
