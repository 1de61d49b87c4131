"""The plug-in seam: what a provider module hands the core.

A provider lives in ``forgesim/providers/<module>.py`` (or a package of that name) and
exposes one module attribute ``PROVIDER: ProviderSpec``. The core owns the state, the
admin API, faults, TLS, git smart HTTP and webhook delivery; the provider owns its REST
routes, its auth rules and its webhook payloads. See ``forgesim/README.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from forgesim.core import Core
    from forgesim.models import Hook, Repository, User
    from forgesim.pushes import Push


@dataclass(frozen=True)
class Outgoing:
    """One webhook request to send: the provider sets every header (event, signature...)."""

    event: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class HookBackoff:
    """How a forge stops calling a hook that keeps failing.

    After ``after`` consecutive failures the hook is skipped for ``first``, each further
    failure doubling the pause up to ``longest``; at ``disable_after`` failures (if set)
    it is disabled for good. A success resets it.
    """

    after: int
    first: dt.timedelta
    longest: dt.timedelta
    disable_after: int | None = None


# GitLab: 4 failures pause a hook for a minute, doubling up to a day; 40 disable it.
GITLAB_BACKOFF = HookBackoff(4, dt.timedelta(minutes=1), dt.timedelta(hours=24), 40)
# Bitbucket Server / Data Center's circuit breaker: 5 failures, 10 s doubling up to 10 h.
BITBUCKET_SERVER_BACKOFF = HookBackoff(5, dt.timedelta(seconds=10), dt.timedelta(hours=10))


# Adds the provider's REST routes (and, if it wants, middlewares) to the app.
SetupFn = Callable[[web.Application, "Core"], None]
# Authenticates a git smart-HTTP request for ``repo``; ``write`` is True for
# receive-pack. Returns the acting user (None = anonymous read of a public repository)
# or raises an ``aiohttp.web.HTTPException`` (401 with the forge's realm, 403, 404).
GitAuthFn = Callable[["Core", web.Request, "Repository", bool], Awaitable["User | None"]]
# The deliveries one hook gets for one push (empty when the hook does not subscribe).
PushFormatter = Callable[["Core", "Push", "Hook"], list[Outgoing]]


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # "gitlab"; what ``running()`` and ``--provider`` take
    api_path: str  # "/api/v4": ``forge.api_url == forge.url + api_path``
    setup: SetupFn
    git_auth: GitAuthFn
    format_push: PushFormatter
    git_prefix: str = ""  # clone URL = url + git_prefix + "/" + full_path + ".git"
    token_prefix: str = ""  # prepended to generated token secrets
    # Options ``running(..., **options)`` / ``--option k=v`` accept: name -> allowed values,
    # the first being the default.
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # How failing hooks are paused or disabled; None: they are called whatever happens
    # (GitHub, Bitbucket Cloud).
    hook_backoff: HookBackoff | None = None
