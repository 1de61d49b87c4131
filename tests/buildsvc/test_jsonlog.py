"""Structured logs: one JSON object per line, carrying the request id of the request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from buildsvc.jsonlog import AccessLogger, JsonFormatter, request_id_var


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_record_logged_while_serving_carries_the_request_id(json_lines: io.StringIO) -> None:
    token = request_id_var.set("req-123")
    try:
        logging.getLogger("buildsvc.test").info("doing %s", "work", extra={"build_id": 7})
    finally:
        request_id_var.reset(token)
    [entry] = [e for e in entries(json_lines) if e["logger"] == "buildsvc.test"]
    assert entry["msg"] == "doing work"
    assert entry["request_id"] == "req-123"
    assert entry["build_id"] == 7
    assert entry["level"] == "info"
    assert entry["ts"].endswith("+00:00")


async def test_access_log_lines_are_json_with_the_echoed_request_id(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    app: web.Application,
    json_lines: io.StringIO,
) -> None:
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)  # as `buildsvc serve` does
    client = await aiohttp_client(server)
    response = await client.get("/healthz", headers={"X-Request-Id": "abc-42"})
    assert response.headers["X-Request-Id"] == "abc-42"
    generated = await client.get("/api/v1/builds")  # 401, with an id made by the server
    request_id = generated.headers["X-Request-Id"]
    assert len(request_id) == 32

    access = [e for e in entries(json_lines) if e.get("path") in ("/healthz", "/api/v1/builds")]
    by_path = {e["path"]: e for e in access}
    assert by_path["/healthz"]["request_id"] == "abc-42"
    assert by_path["/healthz"]["status"] == 200
    assert by_path["/api/v1/builds"]["request_id"] == request_id
    assert by_path["/api/v1/builds"]["status"] == 401
    assert "duration_ms" in by_path["/healthz"]


def test_access_logger_is_off_below_info() -> None:
    """aiohttp builds no access log fields for a logger that would drop them."""
    logger = logging.getLogger("test.access")
    access = AccessLogger(logger, "")
    logger.setLevel(logging.WARNING)
    assert not access.enabled
    logger.setLevel(logging.INFO)
    assert access.enabled
    logger.setLevel(logging.NOTSET)
