"""One error shape for everything that can go wrong, and the request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from buildsvc.app import create_app
from buildsvc.config import Settings
from buildsvc.errors import SourceUnreachable
from buildsvc.jsonlog import JsonFormatter
from buildsvc.web.jsonio import json_body, json_response

SECRET = "glpat" + "-" + "x" * 20  # built at runtime: no token-like literal in the repo


class Thing(BaseModel):
    name: str
    count: int


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError(f"db password {SECRET} leaked in an exception")


async def forge_down(request: web.Request) -> web.Response:
    raise SourceUnreachable(detail="connection refused", status=422)


async def create_thing(request: web.Request) -> web.Response:
    thing = await json_body(request, Thing)
    return json_response(thing, status=201)


async def console_page(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="no such page")


async def database_down(request: web.Request) -> web.Response:
    # What SQLAlchemy raises when PostgreSQL refuses: the statement and its parameters
    # ride along in its text.
    raise OperationalError(
        "SELECT * FROM api_tokens WHERE hash = $1", {"hash": SECRET}, ConnectionRefusedError()
    )


@pytest.fixture
async def test_client(
    settings: Settings,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]],
) -> TestClient[Any, Any]:
    app = create_app(settings)
    app.router.add_get("/webhooks/test/boom", boom)
    app.router.add_get("/webhooks/test/forge", forge_down)
    app.router.add_post("/webhooks/test/things", create_thing)
    app.router.add_get("/webhooks/test/database", database_down)
    app.router.add_get("/console/missing", console_page)
    return await aiohttp_client(app)


async def error_of(response: Any) -> dict[str, Any]:
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    return dict(body["error"])


async def test_service_error_rendered_with_its_status(test_client: TestClient[Any, Any]) -> None:
    response = await test_client.get("/webhooks/test/forge")
    assert response.status == 422
    error = await error_of(response)
    assert error["code"] == "SOURCE_UNREACHABLE"
    assert error["message"].startswith("Failed to access the source code repository site.")
    assert error["detail"] == "connection refused"


async def test_unexpected_exception_is_500_without_internals(
    test_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await test_client.get("/webhooks/test/boom", headers={"X-Request-Id": "rq-1"})
    assert response.status == 500
    text = await response.text()
    assert SECRET not in text
    assert "RuntimeError" not in text
    error = json.loads(text)["error"]
    assert error["code"] == "INTERNAL"
    assert error["detail"] == "request id rq-1"
    # ... but the log has the traceback, tagged with the request id.
    record = next(r for r in caplog.records if r.exc_info)
    logged = json.loads(JsonFormatter().format(record))
    assert logged["request_id"] == "rq-1"
    assert "RuntimeError" in logged["exc"]


async def test_route_not_found_and_method_not_allowed(test_client: TestClient[Any, Any]) -> None:
    response = await test_client.get("/webhooks/no/such/route/here")
    assert response.status == 404
    assert (await error_of(response))["code"] == "NOT_FOUND"

    response = await test_client.delete("/webhooks/test/boom")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    error = await error_of(response)
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in error["detail"]


async def test_console_errors_stay_aiohttp_pages(test_client: TestClient[Any, Any]) -> None:
    response = await test_client.get("/console/missing")
    assert response.status == 404
    assert await response.text() == "no such page"
    assert response.headers["X-Request-Id"]


async def test_invalid_json_and_validation_errors(test_client: TestClient[Any, Any]) -> None:
    response = await test_client.post("/webhooks/test/things", data=b"{not json")
    assert response.status == 400
    assert (await error_of(response))["code"] == "INVALID_JSON"

    response = await test_client.post("/webhooks/test/things", data=b"")
    assert (await error_of(response))["code"] == "INVALID_JSON"

    response = await test_client.post(
        "/webhooks/test/things", json={"count": "many", "token": SECRET}
    )
    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert "name: Field required" in error["detail"]
    assert "count:" in error["detail"]
    assert SECRET not in await response.text()

    response = await test_client.post("/webhooks/test/things", json={"name": "a", "count": 2})
    assert response.status == 201
    assert await response.json() == {"name": "a", "count": 2}


async def test_body_over_limit_is_413(settings: Settings, aiohttp_client: Any) -> None:
    app = create_app(settings.model_copy(update={"webhook_max_body_bytes": 1000}))
    app.router.add_post("/webhooks/test/things", create_thing)
    client = await aiohttp_client(app)
    response = await client.post("/webhooks/test/things", data=b"x" * 1002)
    assert response.status == 413
    assert (await error_of(response))["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("abc-123", True), ("x" * 129, False), ("bad id\u00e9", False), ("", False)],
)
async def test_request_id_in_and_out(
    test_client: TestClient[Any, Any], sent: str, kept: bool
) -> None:
    response = await test_client.get("/healthz", headers={"X-Request-Id": sent} if sent else {})
    echoed = response.headers["X-Request-Id"]
    assert (echoed == sent) is kept
    assert echoed


async def test_a_database_out_of_reach_is_503_with_retry_after_and_no_sql(
    test_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    response = await test_client.get("/webhooks/test/database")
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    error = await error_of(response)
    assert error["code"] == "DATABASE_UNAVAILABLE"
    assert error["detail"] == "ConnectionRefusedError"
    assert SECRET not in await response.text()
    assert SECRET not in caplog.text
    assert "SELECT" not in caplog.text
