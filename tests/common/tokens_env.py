"""Helpers for token server tests: Basic headers and decoding a registry token."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from aiohttp.test_utils import TestClient
from cryptography import x509

from buildsvc.web.keys import TOKEN_SERVER
from tests.common.factories import AccountInfo

Client = TestClient[Any, Any]
MakeAccount = Callable[..., Awaitable[AccountInfo]]
PASSWORD = "registry pass 1"  # the registry password setup_alpha gives both accounts
PUSH = "repository:alpha/app:pull,push"


def basic(login: str, password: str) -> dict[str, str]:
    value = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def decode(client: Client, token: str) -> dict[str, Any]:
    """The claims, after checking the signature against the certificate of x5c."""
    header = jwt.get_unverified_header(token)
    certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    settings = client.app[TOKEN_SERVER].settings
    claims: dict[str, Any] = jwt.decode(
        token,
        certificate.public_key(),  # type: ignore[arg-type]
        algorithms=["ES256"],
        audience=settings.registry_service,
        issuer=settings.registry_token_issuer,
    )
    return claims


async def token_for(
    client: Client, scopes: list[str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any] | None]:
    """(status, claims or None) of ``GET /v2/token`` with these scopes."""
    query = [("service", "buildsvc-registry"), *(("scope", s) for s in scopes)]
    answer = await client.get("/v2/token", params=query, headers=headers or {})
    if answer.status != 200:
        assert await answer.read() == b""  # docker wants a bare 401
        return answer.status, None
    body = await answer.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] >= 60
    return 200, decode(client, body["token"])


def access(claims: dict[str, Any] | None) -> list[tuple[str, str, list[str]]]:
    assert claims is not None
    return [(a["type"], a["name"], a["actions"]) for a in claims["access"]]


async def setup_alpha(client: Client, make_account: MakeAccount) -> tuple[AccountInfo, AccountInfo]:
    alpha, beta = await make_account("alpha"), await make_account("beta")
    for who in (alpha, beta):
        answer = await client.put(
            "/api/v1/registry/password", json={"password": PASSWORD}, headers=bearer(who.token)
        )
        assert answer.status == 204
    await client.post("/api/v1/namespaces", json={"name": "alpha"}, headers=bearer(alpha.token))
    return alpha, beta


async def robot(client: Client, owner: AccountInfo, name: str, permissions: list[Any]) -> str:
    answer = await client.post(
        "/api/v1/robots",
        json={"name": name, "permissions": permissions},
        headers=bearer(owner.token),
    )
    assert answer.status == 201
    return str((await answer.json())["secret"])
