"""The two middlewares every request passes (request id, then error rendering) and the
response hook that echoes the request id.

Forge deliveries (``/webhooks/...``, the busiest path) take a short cut: the request-id
middleware renders their errors itself and calls the route's handler directly, skipping
the middlewares after it, which have nothing to do there (bearer auth is for ``/api/v1``,
console error pages for ``/console``). A middleware that must see deliveries belongs
before this one, or in ``_deliver``.

Errors are rendered in one place, as ``{"error": {"code", "message", "detail"}}``:

- ``ServiceError`` (``buildsvc.errors``): its status, code, message and detail;
- aiohttp ``HTTPException`` under ``/api`` and ``/webhooks`` (route not found, method
  not allowed, body too large ...): same shape, its status and headers (``Allow``);
  elsewhere (the console) aiohttp's own response;
- pydantic ``ValidationError``: 400 ``VALIDATION_ERROR`` naming the fields;
- the database out of reach (refused, dropped, timed out, locked past the busy
  timeout): 503 ``DATABASE_UNAVAILABLE`` with ``Retry-After``, so a forge or a client
  tries again rather than taking it for a fault of its request;
- anything else: 500 ``INTERNAL``, logged with its traceback; the response says only
  the request id, never the exception text (it may hold SQL, URLs or secrets).
"""

from __future__ import annotations

import logging
import random
import re

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError
from sqlalchemy import exc as db_errors

from buildsvc.errors import ServiceError, Unavailable
from buildsvc.jsonlog import request_id_var
from buildsvc.web.jsonio import describe_validation_error, json_response
from buildsvc.web.keys import REQUEST_ID

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
WEBHOOKS_PREFIX = "/webhooks/"
JSON_ERROR_PREFIXES = ("/api/", WEBHOOKS_PREFIX)

_HTTP_CODES = {
    400: ("BAD_REQUEST", "The request is not valid."),
    401: ("UNAUTHENTICATED", "A valid API token is required."),
    403: ("FORBIDDEN", "This action is not allowed."),
    404: ("NOT_FOUND", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "This method is not allowed on this resource."),
    406: ("NOT_ACCEPTABLE", "The requested representation is not available."),
    408: ("REQUEST_TIMEOUT", "The request took too long to arrive."),
    409: ("CONFLICT", "The request conflicts with the current state."),
    411: ("LENGTH_REQUIRED", "A Content-Length is required."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "This content type is not supported."),
    429: ("TOO_MANY_REQUESTS", "Too many requests; try again later."),
}


# What SQLAlchemy raises when the database cannot be reached or answer in time.
_DATABASE_DOWN = (
    db_errors.OperationalError,
    db_errors.InterfaceError,
    db_errors.DisconnectionError,
    db_errors.TimeoutError,  # no pooled connection came free in time
    ConnectionRefusedError,  # asyncpg's, when PostgreSQL is down: SQLAlchemy passes it on
)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(Unavailable):
    code = "DATABASE_UNAVAILABLE"
    default_message = "The database cannot be reached at the moment. Please try again shortly."


def error_body(code: str, message: str, detail: str | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "detail": detail}}


def new_request_id() -> str:
    """32 random hex digits, like a UUID's: unique enough to find a request in the logs.
    Not a secret, so the (fast) Mersenne Twister rather than ``os.urandom``."""
    return f"{random.getrandbits(128):032x}"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take a sane ``X-Request-Id`` from the client (or make one) and log with it."""
    incoming = request.headers.get(REQUEST_ID_HEADER)
    if incoming is not None and _VALID_REQUEST_ID.fullmatch(incoming):
        request_id = incoming
    else:
        request_id = new_request_id()
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    try:
        if request.path.startswith(WEBHOOKS_PREFIX):
            return await _deliver(request)
        return await handler(request)
    finally:
        request_id_var.reset(token)


async def _deliver(request: web.Request) -> web.StreamResponse:
    """A forge delivery: its route's handler (or aiohttp's 404/405), errors rendered."""
    return await error_middleware(request, request.match_info.handler)


async def echo_request_id(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: every response carries the id, streamed ones and
    aiohttp's own error pages included."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceError as exc:
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc)
        return _service_error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(JSON_ERROR_PREFIXES):
            raise
        return _http_exception_response(exc)
    except ValidationError as exc:
        body = error_body(
            "VALIDATION_ERROR", "The request is not valid.", describe_validation_error(exc)
        )
        return json_response(body, status=400)
    except _DATABASE_DOWN as exc:
        # Not the text: SQLAlchemy's holds the statement and its parameters.
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("database unavailable serving %s %s: %s", request.method, request.path, cause)
        response = _service_error_response(request, DatabaseUnavailable(detail=cause))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    except Exception:
        request_id = request.get(REQUEST_ID, "")
        log.exception(
            "unhandled error serving %s %s",
            request.method,
            request.path,
            extra={"request_id": request_id},
        )
        return json_response(
            error_body("INTERNAL", "An internal error occurred.", f"request id {request_id}"),
            status=500,
        )


def _service_error_response(request: web.Request, exc: ServiceError) -> web.Response:
    headers = {}
    if exc.status == 401 and request.path.startswith("/api/"):
        headers["WWW-Authenticate"] = 'Bearer realm="buildsvc"'
    return json_response({"error": exc.to_dict()}, status=exc.status, headers=headers)


def _http_exception_response(exc: web.HTTPException) -> web.Response:
    code, message = _HTTP_CODES.get(exc.status, (f"HTTP_{exc.status}", exc.reason))
    detail: str | None = None
    if isinstance(exc, web.HTTPMethodNotAllowed):
        detail = f"allowed methods: {', '.join(sorted(exc.allowed_methods))}"
    elif exc.status == 413:
        detail = exc.text
    headers = {
        name: value
        for name, value in exc.headers.items()
        if name.lower() not in {"content-type", "content-length"}
    }
    return json_response(error_body(code, message, detail), status=exc.status, headers=headers)
