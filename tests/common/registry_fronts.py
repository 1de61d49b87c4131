"""Registry fronts for worker tests: the real registry behind a flaky or token-auth door.

Each forwards to the real registry (``Services.registry``) and changes one thing about
it: ``FlakyRegistry`` answers some manifest PUTs with 503, ``TokenRegistry`` wants
bearer tokens from a token service of its own (and, behind it, answers the real
registry's own bearer challenge with the test login). ``tag_base`` tags the base image
for a push.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
from collections.abc import Awaitable, Callable

import aiohttp
import docker
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.common.services import BASE_IMAGE, Services

ServerFactory = Callable[..., Awaitable[TestServer]]


def tag_base(api: docker.APIClient, repository: str, *tags: str) -> list[str]:
    for tag in tags:
        api.tag(BASE_IMAGE, repository, tag)
    return [f"{repository}:{tag}" for tag in tags]


class FlakyRegistry:
    """Forwards to the real registry, but answers ``failures`` manifest PUTs with 503
    (after the first ``passed`` ones)."""

    def __init__(self, upstream: str, failures: int, passed: int = 0) -> None:
        self.upstream = upstream
        self.failures = failures
        self.passed = passed

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # The manifest upload: the daemon does not retry it itself (it does retry layers).
        if request.method == "PUT" and "/manifests/" in request.path and self.failures > 0:
            if self.passed > 0:
                self.passed -= 1
            else:
                self.failures -= 1
                return web.Response(status=503, text="registry restarting")
        hop = {"content-length", "transfer-encoding", "connection"}  # recomputed per hop
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                f"http://{self.upstream}{request.path_qs}",
                headers=headers,  # Host stays the proxy's, so Location points back here
                data=io.BytesIO(await request.read()),  # bytes would warn for a layer
                allow_redirects=False,
            ) as answer,
        ):
            body = b"" if request.method == "HEAD" else await answer.read()
            # Content-Length stays: a HEAD answer carries the blob size in it.
            skip = {"transfer-encoding", "connection"}
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in skip}
            return web.Response(status=answer.status, body=body, headers=kept)


class TokenRegistry:
    """A registry front that wants bearer tokens (as Docker Hub, GHCR, Harbor do).

    ``/token`` hands out a token for the real registry's login; everything else is
    passed to the real registry once the token is presented.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.token = secrets.token_hex(8)
        self.scopes: list[str] = []
        self.port = 0

    def _basic(self) -> str:
        pair = f"{self.services.registry_username}:{self.services.registry_password}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    async def issue(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self._basic():
            return web.json_response({"details": "bad credentials"}, status=401)
        self.scopes.append(request.query.get("scope", ""))
        assert request.query.get("service") == "test-registry"
        return web.json_response({"token": self.token})

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            realm = f"http://127.0.0.1:{self.port}/token"
            challenge = f'Bearer realm="{realm}",service="test-registry"'
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                status=401,
                headers={"WWW-Authenticate": challenge},
            )
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in {"content-length", "transfer-encoding", "connection"}
        }
        body = await request.read()
        async with aiohttp.ClientSession() as session:
            headers["Authorization"] = self._basic()
            status, answer_headers, answer_body = await self._forward(
                session, request, headers, body
            )
            challenge = answer_headers.get("WWW-Authenticate", "")
            if status == 401 and challenge.lower().startswith("bearer "):
                # The real registry is a token-auth one: its realm takes the same login.
                headers["Authorization"] = "Bearer " + await self._upstream_token(
                    session, challenge
                )
                status, answer_headers, answer_body = await self._forward(
                    session, request, headers, body
                )
        kept = {
            k: v
            for k, v in answer_headers.items()
            if k.lower() not in {"transfer-encoding", "connection", "content-length"}
        }
        return web.Response(status=status, body=answer_body, headers=kept)

    async def _forward(
        self,
        session: aiohttp.ClientSession,
        request: web.Request,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        async with session.request(
            request.method,
            f"http://{self.services.registry}{request.path_qs}",
            headers=headers,  # Host stays ours, so Location points back here
            data=io.BytesIO(body),
            allow_redirects=False,
        ) as answer:
            return answer.status, dict(answer.headers), await answer.read()

    async def _upstream_token(self, session: aiohttp.ClientSession, challenge: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = {"service": params.get("service", "")}
        if "scope" in params:
            query["scope"] = params["scope"]
        async with session.get(
            params["realm"], params=query, headers={"Authorization": self._basic()}
        ) as answer:
            assert answer.status == 200, await answer.text()
            return str((await answer.json())["token"])


async def serve_token_registry(services: Services, server: ServerFactory) -> TokenRegistry:
    """A ``TokenRegistry`` in front of the real registry, listening on ``front.port``."""
    front = TokenRegistry(services)
    app = web.Application()
    app.router.add_get("/token", front.issue)
    app.router.add_route("*", "/v2/{path:.*}", front.handle)
    front.port = (await server(app)).port
    return front
