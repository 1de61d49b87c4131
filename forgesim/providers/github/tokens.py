"""GitHub's two kinds of personal access token and what each may do.

Classic tokens (``ghp_`` prefix, made with ``POST /_forgesim/tokens``) carry OAuth
scopes, echoed in ``X-OAuth-Scopes``; some scopes imply others (``repo`` covers
``repo:status``, ``admin:repo_hook`` covers ``write:repo_hook``...).

Fine-grained tokens (``github_pat_`` prefix, made with ``POST
/_forgesim/github/fine-grained-tokens``) carry repository permissions written
``name:level`` (``contents:write``, ``webhooks:read``, ``statuses:write``...;
``metadata:read`` is always granted, ``write`` implies ``read``). They send no scope
header, and a missing permission answers 403 "Resource not accessible by personal
access token". Here they cover every repository their owner can reach.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from forgesim.core import CORE
from forgesim.faults import ADMIN_PREFIX
from forgesim.models import Token
from forgesim.state import StateError

CLASSIC_PREFIX = "ghp_"
FINE_PREFIX = "github_pat_"
LEVELS = ("read", "write")
IMPLIED: dict[str, tuple[str, ...]] = {
    "repo": ("repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events"),
    "admin:repo_hook": ("write:repo_hook", "read:repo_hook"),
    "write:repo_hook": ("read:repo_hook",),
    "admin:org": ("write:org", "read:org"),
    "write:org": ("read:org",),
    "admin:public_key": ("write:public_key", "read:public_key"),
    "user": ("read:user", "user:email", "user:follow"),
}


def fine_grained(token: Token) -> bool:
    return token.secret.startswith(FINE_PREFIX)


def scopes(token: Token) -> set[str]:
    """A classic token's scopes with everything they imply."""
    out = set(token.scopes)
    for scope in token.scopes:
        out.update(IMPLIED.get(scope, ()))
    return out


def has_scope(token: Token, *accepted: str) -> bool:
    return bool(scopes(token) & set(accepted))


def permission(token: Token, name: str) -> str | None:
    """The level (read / write) a fine-grained token holds for ``name``."""
    if name == "metadata":
        return "read"
    levels = [p.partition(":")[2] for p in token.scopes if p.partition(":")[0] == name]
    known = [level for level in levels if level in LEVELS]
    return max(known, key=LEVELS.index) if known else None


def allows(token: Token, name: str, level: str) -> bool:
    held = permission(token, name)
    return held is not None and LEVELS.index(held) >= LEVELS.index(level)


def _permissions(raw: object) -> Iterable[str]:
    if not isinstance(raw, dict):
        raise StateError('permissions must be an object such as {"contents": "write"}')
    for name, level in raw.items():
        if level not in LEVELS:
            raise StateError(f"permission {name!r} must be read or write, not {level!r}")
        yield f"{name}:{level}"


async def create_fine_grained(request: web.Request) -> web.Response:
    """``POST /_forgesim/github/fine-grained-tokens {"username", "permissions", "expires_at"}``."""
    core, body = request.app[CORE], await request.json()
    if not isinstance(body, dict):
        raise StateError("expected a JSON object")
    user = core.state.require_user(str(body["username"]))
    granted = ["metadata:read", *_permissions(body.get("permissions", {}))]
    token = core.state.create_token(
        user, granted, body.get("expires_at"), FINE_PREFIX, str(body.get("name", "forgesim"))
    )
    core.state.changed()
    return web.json_response({"token": token.secret, "id": token.id}, status=201)


def add_admin_routes(app: web.Application) -> None:
    app.router.add_post(ADMIN_PREFIX + "/github/fine-grained-tokens", create_fine_grained)
