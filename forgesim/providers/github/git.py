"""Git over HTTPS as GitHub authenticates it.

HTTP Basic with a token as the password and ``x-access-token`` (or the token owner's
login) as the username. Public repositories clone anonymously and with any token;
private ones need ``repo`` (classic) or ``contents:read`` (fine-grained); pushing needs
``repo`` (``public_repo`` for public repositories) or ``contents:write``, and write
access. GitHub answers 401 for bad credentials, 404 "Repository not found." for what
the token cannot see and 403 for a refused push.
"""

from __future__ import annotations

from aiohttp import web

from forgesim import access
from forgesim.core import Core
from forgesim.gitauth import basic_credentials, unauthorized
from forgesim.models import DEVELOPER, Repository, Token, User, now_iso
from forgesim.providers.github import tokens

REALM = "GitHub"
DENIED = "Invalid username or token. Password authentication is not supported for Git operations."
NOT_FOUND = "Repository not found."
USERNAMES = ("x-access-token", "x-oauth-basic", "oauth2")


def _refuse_push(repo: Repository, user: User) -> web.HTTPForbidden:
    text = f"Permission to {repo.full_path}.git denied to {user.username}.\n"
    return web.HTTPForbidden(text=text)


async def git_auth(core: Core, request: web.Request, repo: Repository, write: bool) -> User | None:
    creds = basic_credentials(request)
    if creds is None:
        if not write and not repo.private:
            return None
        raise unauthorized(REALM, DENIED)
    user, token = _authenticate(core, *creds)
    fine = tokens.fine_grained(token)
    if repo.private:
        readable = access.can_read_code(core.state, user, repo)
        if not readable or not (fine or tokens.has_scope(token, "repo")):
            raise web.HTTPNotFound(text=NOT_FOUND + "\n")
        if fine and not tokens.allows(token, "contents", "read"):
            raise web.HTTPNotFound(text=NOT_FOUND + "\n")
    if write:
        _check_push(core, repo, user, token)
    return user


def _authenticate(core: Core, name: str, secret: str) -> tuple[User, Token]:
    """The token's owner, or 401 for a token that is unknown, inactive or not theirs."""
    token = core.state.token_by_secret(secret)
    user = core.state.users.get(token.user_id) if token else None
    if token is None or user is None or not token.active():
        raise unauthorized(REALM, DENIED)
    if name.lower() not in (*USERNAMES, user.username.lower()):
        raise unauthorized(REALM, DENIED)
    token.last_used_at = now_iso()
    return user, token


def _check_push(core: Core, repo: Repository, user: User, token: Token) -> None:
    if tokens.fine_grained(token):
        if not tokens.allows(token, "contents", "write"):
            raise web.HTTPForbidden(text="Write access to repository not granted.\n")
    elif not tokens.has_scope(token, "repo" if repo.private else "public_repo"):
        raise _refuse_push(repo, user)
    if access.repo_level(core.state, user, repo) < DEVELOPER and not user.admin:
        raise _refuse_push(repo, user)
