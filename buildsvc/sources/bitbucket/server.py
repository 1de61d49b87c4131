"""The Bitbucket Server / Data Center code source: ``BitbucketServerProvider`` and client.

Projects are the namespaces; hooks deliver ``repo:refs_changed`` signed with
``configuration.secret``; build statuses go to the repository's ``/builds`` (7.4+)
keyed like Bitbucket Cloud's (at most 40 characters). The HTTP access token is sent as
a Bearer token. Every call opens atlassian-python-api over our transport
(``rest.open_calls``) in a thread under a deadline, mapped at the boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import requests

from buildsvc.config import Settings
from buildsvc.errors import InvalidInput
from buildsvc.sources.base import (
    Binding,
    CommitState,
    Credentials,
    Hook,
    Namespace,
    ProviderName,
    SourceRepository,
)
from buildsvc.sources.bitbucket import server_models as models
from buildsvc.sources.bitbucket.rest import Calls, Connection, open_calls, status_of
from buildsvc.sources.bitbucket.server_bind import check_binding
from buildsvc.sources.common import (
    HEXISH,
    LIST_DEADLINE,
    BlockingCalls,
    bounded,
    check_credentials,
    found_ref,
    message_of,
    run_bind,
)
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import ca_file
from buildsvc.sources.urls import parse_root_url

# Keys as short as Cloud's (its limit), so one name fits both; names may be 255.
KEY_LIMIT, NAME_LIMIT = 40, 255
# CANCELLED exists only on recent Data Center releases; FAILED is understood by all.
STATES = {
    "pending": "INPROGRESS",
    "running": "INPROGRESS",
    "success": "SUCCESSFUL",
    "failed": "FAILED",
    "canceled": "FAILED",
}


class BitbucketServerClient:
    def __init__(self, conn: Connection) -> None:
        self._run = BlockingCalls(conn, lambda: open_calls(conn))

    async def list_namespaces(self) -> list[Namespace]:
        return await self._run(
            lambda calls: [models.project(p) for p in calls.get_all("/projects")],
            factor=LIST_DEADLINE,
        )

    async def list_repositories(self, namespace: str) -> list[SourceRepository]:
        path = models.project_path(namespace) + "/repos"
        gone = f"project {namespace} does not exist"
        return await self._run(
            lambda calls: [models.repository(repo) for repo in calls.get_all(path)],
            details={404: gone},
            factor=LIST_DEADLINE,
        )

    async def get_repository(self, full_path: str) -> SourceRepository:
        path = models.repo_path(full_path)

        def work(calls: Calls) -> SourceRepository:
            return models.repository(calls.get(path), _default_branch(calls, path))

        return await self._run(work, details={404: f"repository {full_path} does not exist"})

    def _hook_details(self, full_path: str) -> dict[int, str]:
        return {
            # Bitbucket Server answers 401 AuthorisationException; failures.py applies this.
            403: f"the token cannot manage webhooks on {full_path}: the user and the HTTP "
            "access token both need Repository admin permission",
            404: f"repository {full_path} does not exist",
        }

    async def create_hook(self, full_path: str, url: str, secret: str) -> Hook:
        path = models.repo_path(full_path) + "/webhooks"
        data = {
            "name": "buildsvc",
            "url": url,
            "events": ["repo:refs_changed"],
            "active": True,
            "configuration": {"secret": secret},
            "sslVerificationRequired": True,
        }
        return await self._run(
            lambda calls: models.hook(calls.post(path, data)), details=self._hook_details(full_path)
        )

    async def get_hook(self, full_path: str, hook_id: str) -> Hook | None:
        if not hook_id.isdigit():
            return None
        path = f"{models.repo_path(full_path)}/webhooks/{hook_id}"
        return await self._run(
            lambda calls: calls.find(path, models.hook), details=self._hook_details(full_path)
        )

    async def delete_hook(self, full_path: str, hook_id: str) -> None:
        if not hook_id.isdigit():
            return
        path = f"{models.repo_path(full_path)}/webhooks/{hook_id}"
        denied = self._hook_details(full_path)[403]
        await self._run(lambda calls: calls.delete_if_present(path), details={403: denied})

    async def resolve_ref(self, full_path: str, ref: str) -> str:
        base = models.repo_path(full_path)
        sha = await self._run(lambda calls: _resolve(calls, base, ref))
        return found_ref(sha, ref, full_path)

    async def commit_message(self, full_path: str, sha: str) -> str:
        path = f"{models.repo_path(full_path)}/commits/{quote(sha, safe='')}"
        gone = f"no commit {sha} in {full_path}"
        return await self._run(
            lambda calls: message_of(calls.get(path), "a commit"), details={400: gone, 404: gone}
        )

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
        if not models.SHA_RE.fullmatch(sha):
            raise InvalidInput(detail=f"{sha!r} is not a commit sha")
        path = f"{models.repo_path(full_path)}/commits/{sha}/builds"
        data = {
            "key": bounded(context, KEY_LIMIT),
            "state": STATES[state],
            "name": bounded(context, NAME_LIMIT),
            "url": target_url,
            "description": description[:255],
        }
        await self._run(lambda calls: calls.post(path, data))


def _default_branch(calls: Calls, repo: str) -> str | None:
    """``/default-branch`` (Data Center 7.5+), else ``/branches/default``; None if unset."""
    for suffix in ("/default-branch", "/branches/default"):
        try:
            answer = calls.get(repo + suffix)
        except requests.HTTPError as exc:
            if status_of(exc) == 404:
                continue
            raise
        name = answer.get("displayId") if isinstance(answer, dict) else None
        return str(name) if name else None
    return None


def _find_ref(calls: Calls, base: str, full_ref: str) -> str | None:
    """A branch or tag by exact ref (``filterText`` matches substrings, so check ``id``)."""
    is_branch = full_ref.startswith("refs/heads/")
    kind = "branches" if is_branch else "tags"
    name = full_ref.removeprefix("refs/heads/" if is_branch else "refs/tags/")
    for item in calls.get_all(f"{base}/{kind}", {"filterText": name}):
        if isinstance(item, dict) and item.get("id") == full_ref:
            return models.sha(item, "latestCommit", "a branch or tag")
    return None


def _commit(calls: Calls, base: str, ref: str) -> str | None:
    try:
        return models.sha(calls.get(f"{base}/commits/{quote(ref, safe='')}"), "id", "a commit")
    except requests.HTTPError as exc:
        if status_of(exc) in (400, 404):  # unknown or malformed commit id
            return None
        raise


def _resolve(calls: Calls, base: str, ref: str) -> str | None:
    if ref.startswith(("refs/heads/", "refs/tags/")):
        return _find_ref(calls, base, ref)
    attempts: list[Callable[[], str | None]] = [
        lambda: _find_ref(calls, base, f"refs/heads/{ref}"),
        lambda: _find_ref(calls, base, f"refs/tags/{ref}"),
        lambda: _commit(calls, base, ref),
    ]
    if HEXISH.fullmatch(ref):
        attempts.insert(0, attempts.pop())
    return next((sha for attempt in attempts if (sha := attempt()) is not None), None)


class BitbucketServerProvider:
    name: ProviderName = "bitbucket-server"

    def __init__(self, settings: Settings) -> None:
        self._policy = AddressPolicy.from_cidrs(settings.allowed_source_networks)
        self._timeout = settings.source_timeout_seconds

    def _connection(self, root_url: str, credentials: Credentials) -> Connection:
        return Connection(
            flavour="server",
            root_url=root_url,
            api_url=f"{root_url}/rest/api/1.0",
            username=credentials.username.strip(),
            token=credentials.token,
            bearer=True,  # HTTP access tokens are Bearer tokens
            policy=self._policy,
            timeout=self._timeout,
            ca_file=ca_file(credentials.ca_cert) if credentials.ca_cert else None,
        )

    async def bind(self, credentials: Credentials) -> Binding:
        check_credentials(credentials, self.name)
        root = parse_root_url(credentials.url, self.name)
        conn = self._connection(root.url, credentials)
        user = credentials.username.strip()
        ctx = conn.context(status=422, details={404: f"user {user} does not exist on the server"})
        return await run_bind(
            lambda: check_binding(root, conn),
            ctx,
            host=root.host,
            port=root.port,
            policy=self._policy,
            request_timeout=self._timeout,
        )

    def client(self, binding: Binding, credentials: Credentials) -> BitbucketServerClient:
        return BitbucketServerClient(self._connection(binding.url, credentials))

    def git_credentials(self, binding: Binding, credentials: Credentials) -> tuple[str, str]:
        return binding.username, credentials.token
