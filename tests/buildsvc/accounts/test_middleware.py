"""Which paths need a bearer token, and how a missing or bad one is answered."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from buildsvc.accounts.middleware import requires_token
from tests.common.factories import AccountInfo


@pytest.mark.parametrize(
    ("path", "protected"),
    [
        ("/api/v1/builds", True),
        ("/api/v1/builds/1", True),
        ("/api/v1", True),
        ("/api/v1/", True),
        ("/api/v1/openapi.json", False),
        ("/api/docs", False),
        ("/api/v10/builds", False),
        ("/webhooks/gitlab/abc", False),
        ("/healthz", False),
        ("/metrics", False),
        ("/console", False),
        ("/console/builds/1", False),
    ],
)
def test_protected_paths(path: str, protected: bool) -> None:
    assert requires_token(path) is protected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token bsv_abc",
        "Bearer bsv_not-a-token",
        "Bearer glpat-notours",
    ],
)
async def test_missing_or_invalid_token_is_401(
    client: TestClient[Any, Any], account: AccountInfo, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/v1/builds", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = await response.json()
    assert body["error"]["code"] == "UNAUTHENTICATED"
    assert account.token not in await response.text()


async def test_valid_token_passes_case_insensitive_scheme(
    client: TestClient[Any, Any], account: AccountInfo
) -> None:
    for scheme in ["Bearer", "bearer", "BEARER"]:
        response = await client.get(
            "/api/v1/builds", headers={"Authorization": f"{scheme} {account.token}"}
        )
        assert response.status == 200


async def test_public_paths_need_no_token(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    # Not routed yet (other modules), but never 401: auth does not guard them.
    for path in ["/webhooks/gitlab/nope", "/api/v1/openapi.json", "/api/docs", "/console"]:
        response = await client.get(path)
        assert response.status != 401, path
