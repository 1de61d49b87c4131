"""The one interface every code-source provider implements.

A provider is a factory (``SourceProvider``) that checks binding information and opens
a ``SourceClient`` for a stored binding. Everything here is forge-neutral; the
adapters (``gitlab/provider.py`` ...) translate their client library's answers into these
types and every client or network exception into ``SourceUnreachable`` or
``SourceErrorResponse`` (``buildsvc.errors``) at their boundary.

All methods are async: adapters run the blocking SDK calls in threads with timeouts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Protocol

ProviderName = Literal["gitlab", "github", "bitbucket", "bitbucket-server"]
CommitState = Literal["pending", "running", "success", "failed", "canceled"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a user enters to bind an account; ``token`` is a secret, never logged."""

    provider: ProviderName
    url: str  # instance root URL as the user typed it (normalised by the adapter)
    username: str
    token: str = field(repr=False)
    ca_cert: str | None = field(default=None, repr=False)  # PEM for self-signed / private CA


@dataclass(frozen=True, slots=True)
class Binding:
    """A checked binding: what the service stores (with the token encrypted)."""

    provider: ProviderName
    url: str  # normalised instance root URL
    api_url: str  # the API base actually used, e.g. https://host/gitlab/api/v4
    api_version: str  # "v4", "v3" (GitLab), "v3" (GitHub), "2.0", "1.0"
    username: str  # as the forge spells it
    user_id: str
    scopes: tuple[str, ...]
    expires_at: dt.date | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Namespace:
    path: str  # full path: group/subgroup, org, workspace, PROJECTKEY
    name: str
    kind: str  # "user", "group", "organization", "workspace", "project"


@dataclass(frozen=True, slots=True)
class SourceRepository:
    id: str
    full_path: str  # group/subgroup/project, owner/repo, workspace/slug, PROJECTKEY/slug
    name: str
    clone_url: str  # http(s) clone URL, no credentials in it
    default_branch: str | None
    private: bool
    web_url: str | None = None


@dataclass(frozen=True, slots=True)
class Hook:
    id: str
    url: str
    enabled: bool


class SourceClient(Protocol):
    """Calls on behalf of one stored binding."""

    async def list_namespaces(self) -> list[Namespace]:
        """Every namespace the token sees, following pagination to the end."""
        ...

    async def list_repositories(self, namespace: str) -> list[SourceRepository]:
        """Every repository in one namespace, following pagination to the end."""
        ...

    async def get_repository(self, full_path: str) -> SourceRepository: ...

    async def create_hook(self, full_path: str, url: str, secret: str) -> Hook:
        """A push (and tag push) hook delivering to ``url`` with ``secret``; SSL verified."""
        ...

    async def get_hook(self, full_path: str, hook_id: str) -> Hook | None:
        """The hook, or None when it no longer exists on the forge."""
        ...

    async def delete_hook(self, full_path: str, hook_id: str) -> None:
        """Remove the hook; a hook already gone is not an error."""
        ...

    async def resolve_ref(self, full_path: str, ref: str) -> str:
        """The 40-hex commit sha of a branch or tag name or full ref."""
        ...

    async def commit_message(self, full_path: str, sha: str) -> str:
        """The full message of one commit (for push payloads that carry none)."""
        ...

    async def set_commit_status(
        self,
        full_path: str,
        sha: str,
        state: CommitState,
        *,
        context: str,
        target_url: str,
        description: str,
    ) -> None:
        """Set the commit's status named ``context`` (a status of another name stays);
        adapters fit the name into the forge's limits (``common.bounded``)."""
        ...


class SourceProvider(Protocol):
    """One per forge: checks credentials and opens clients."""

    name: ProviderName

    async def bind(self, credentials: Credentials) -> Binding:
        """Run every binding check (URL, network, user, token) and describe the binding."""
        ...

    def client(self, binding: Binding, credentials: Credentials) -> SourceClient:
        """A client for a stored binding (credentials decrypted by the caller)."""
        ...

    def git_credentials(self, binding: Binding, credentials: Credentials) -> tuple[str, str]:
        """The (username, password) pair git uses over HTTP for this forge."""
        ...
