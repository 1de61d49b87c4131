"""The plug-in seam: what a provider module hands the core.

A provider lives in ``forgesim/providers/<module>.py`` (or a package of that name) and
exposes one module attribute ``PROVIDER: ProviderSpec``. The core owns the state, the
admin API, faults, TLS, git smart HTTP and webhook delivery; the provider owns its REST
routes, its auth rules and its webhook payloads. See ``forgesim/README.md``.
"""

from __future__ import annotations

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
    # Consecutive failed deliveries after which a hook is disabled (GitLab: 4); None never.
    hook_disable_after: int | None = None
