"""Token-over-HTTP-Basic authentication for git, parametrised per forge.

Providers build their ``git_auth`` from ``token_git_auth`` with ``functools.partial``,
choosing the realm, which scopes allow reading and writing, which usernames go with a
token, and the forge's refusal texts.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection
from dataclasses import dataclass

from aiohttp import web

from forgesim import access
from forgesim.core import Core
from forgesim.models import DEVELOPER, Repository, User, now_iso


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


@dataclass(frozen=True)
class GitTexts:
    """The forge's words for each refusal (git prints them after ``remote:``)."""

    denied: str = "HTTP Basic: Access denied"
    not_found: str = "Repository not found."
    no_push: str = "You are not allowed to push code to this project."


def unauthorized(realm: str, text: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=text + "\n", headers={"WWW-Authenticate": f'Basic realm="{realm}"'}
    )


async def token_git_auth(
    core: Core,
    request: web.Request,
    repo: Repository,
    write: bool,
    *,
    realm: str,
    read_scopes: Collection[str],
    write_scopes: Collection[str],
    username_ok: Callable[[str, User], bool] = lambda name, user: bool(name),
    texts: GitTexts = GitTexts(),  # a frozen dataclass: safe as a default
) -> User | None:
    creds = basic_credentials(request)
    if creds is None:
        if not write and not repo.private:
            return None  # anonymous clone of a public repository
        raise unauthorized(realm, texts.denied)
    name, secret = creds
    token = core.state.token_by_secret(secret)
    user = core.state.users.get(token.user_id) if token else None
    if token is None or user is None or not token.active() or not username_ok(name, user):
        raise unauthorized(realm, texts.denied)
    scopes = set(token.scopes)
    if not scopes & set(write_scopes if write else read_scopes):
        if write and scopes & set(read_scopes) and access.can_read_code(core.state, user, repo):
            raise web.HTTPForbidden(text=texts.no_push + "\n")
        raise unauthorized(realm, texts.denied)
    token.last_used_at = now_iso()
    core.state.changed()
    if not access.can_read_code(core.state, user, repo):
        raise web.HTTPNotFound(text=texts.not_found + "\n")
    if write and access.repo_level(core.state, user, repo) < DEVELOPER and not user.admin:
        raise web.HTTPForbidden(text=texts.no_push + "\n")
    return user
