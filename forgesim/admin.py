"""The admin API under ``/_forgesim``: JSON, no auth, loopback clients only."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import asdict
from typing import Any

from aiohttp import web

from forgesim.core import CORE, Core
from forgesim.faults import ADMIN_PREFIX, Fault
from forgesim.models import role_level
from forgesim.state import StateError

Json = dict[str, Any]


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(ADMIN_PREFIX + "/health", health)
    r.add_post(ADMIN_PREFIX + "/users", create_user)
    r.add_post(ADMIN_PREFIX + "/tokens", create_token)
    r.add_post(ADMIN_PREFIX + "/tokens/revoke", revoke_token)
    r.add_post(ADMIN_PREFIX + "/namespaces", create_namespace)
    r.add_post(ADMIN_PREFIX + "/repositories", create_repository)
    r.add_get(ADMIN_PREFIX + "/deliveries", deliveries)
    r.add_delete(ADMIN_PREFIX + "/deliveries", clear_deliveries)
    r.add_get(ADMIN_PREFIX + "/idle", idle)
    r.add_get(ADMIN_PREFIX + "/faults", list_faults)
    r.add_put(ADMIN_PREFIX + "/faults", add_fault)
    r.add_delete(ADMIN_PREFIX + "/faults", clear_faults)


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Loopback only; admin errors become ``{"error": ...}`` with their status."""
    if not request.path.startswith(ADMIN_PREFIX + "/"):
        return await handler(request)  # type: ignore[no-any-return]
    try:
        loopback = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return web.json_response({"error": "the admin API answers loopback only"}, status=403)
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except StateError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except (KeyError, TypeError, ValueError, re.error) as exc:
        return web.json_response({"error": f"bad request: {exc!r}"}, status=400)


async def _body(request: web.Request) -> Json:
    raw = await request.json()
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object")
    return raw


def _members(raw: Any) -> dict[str, int]:
    return {str(k): role_level(v) for k, v in (raw or {}).items()}


async def health(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return web.json_response(
        {"provider": core.spec.name, "url": core.base_url, "api_url": core.api_url}
    )


async def create_user(request: web.Request) -> web.Response:
    core, body = request.app[CORE], await _body(request)
    user = core.state.create_user(body["username"], body.get("name", ""), body.get("email", ""))
    user.admin = bool(body.get("admin", False))
    core.state.changed()
    return web.json_response(asdict(user), status=201)


async def create_token(request: web.Request) -> web.Response:
    core, body = request.app[CORE], await _body(request)
    user = core.state.require_user(body["username"])
    scopes = [str(s) for s in body.get("scopes", [])]
    token = core.state.create_token(
        user, scopes, body.get("expires_at"), core.spec.token_prefix, body.get("name", "forgesim")
    )
    core.state.changed()
    return web.json_response({"token": token.secret, "id": token.id}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    core, body = request.app[CORE], await _body(request)
    token = core.state.token_by_secret(str(body["token"]))
    if token is None:
        raise StateError("no such token", 404)
    token.revoked = True
    core.state.changed()
    return web.json_response({"revoked": True})


async def create_namespace(request: web.Request) -> web.Response:
    core, body = request.app[CORE], await _body(request)
    ns = core.state.create_namespace(
        str(body["path"]), _members(body.get("members")), str(body.get("visibility", "private"))
    )
    core.state.changed()
    return web.json_response(asdict(ns), status=201)


async def create_repository(request: web.Request) -> web.Response:
    core, body = request.app[CORE], await _body(request)
    ns = core.state.namespace_by_path(str(body["namespace"]))
    if ns is None:
        raise StateError(f"no namespace {body['namespace']!r}", 404)
    creator = core.state.users.get(ns.owner_id) if ns.owner_id else None
    repo = core.state.create_repository(
        ns,
        str(body["name"]),
        bool(body.get("private", True)),
        str(body.get("default_branch", "main")),
        _members(body.get("members")),
        creator,
    )
    if "description" in body:
        repo.description = str(body["description"])
    core.state.changed()
    return web.json_response(_repo_json(core, repo.id), status=201)


def _repo_json(core: Core, repo_id: int) -> Json:
    repo = core.state.repos[repo_id]
    return {"id": repo.id, "full_path": repo.full_path, "clone_url": core.git_url(repo.full_path)}


async def deliveries(request: web.Request) -> web.Response:
    core = request.app[CORE]
    items = core.state.deliveries
    if "hook_id" in request.query:
        items = [d for d in items if d.hook_id == int(request.query["hook_id"])]
    return web.json_response([asdict(d) for d in items])


async def clear_deliveries(request: web.Request) -> web.Response:
    request.app[CORE].state.deliveries.clear()
    request.app[CORE].state.changed()
    return web.json_response({"cleared": True})


async def idle(request: web.Request) -> web.Response:
    """``GET /idle?timeout=S``: answers once no delivery is in flight (504 after S).

    S is capped below the admin client's 30 s socket timeout."""
    timeout = min(float(request.query.get("timeout", "10")), 25.0)
    try:
        async with asyncio.timeout(timeout):
            await request.app[CORE].settle()
    except TimeoutError:
        message = f"deliveries still in flight after {timeout:g} s"
        return web.json_response({"error": message}, status=504)
    return web.json_response({"idle": True})


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response([asdict(f) for f in request.app[CORE].faults.faults])


async def add_fault(request: web.Request) -> web.Response:
    fault = Fault.from_json(await _body(request))
    request.app[CORE].faults.add(fault)
    return web.json_response(asdict(fault), status=201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[CORE].faults.clear()
    return web.json_response({"cleared": True})
