"""The Bitbucket Cloud code source: ``BitbucketProvider`` and ``BitbucketClient``.

Workspaces are the namespaces; hooks deliver ``repo:push`` signed with a secret; build
statuses carry the caller's name as ``name`` and, cut to 40 characters, as ``key``.
Every call opens atlassian-python-api over our transport (``rest.open_calls``)
in a thread under a deadline, mapped at the boundary (``failures.run_blocking``).
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
from buildsvc.sources.bitbucket import cloud_models as models
from buildsvc.sources.bitbucket.cloud_bind import (
    BEARER,
    TOKEN_USERNAME,
    check_binding,
    root_and_api,
)
from buildsvc.sources.bitbucket.rest import Calls, Connection, open_calls, status_of
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

# Bitbucket Cloud refuses build status keys over 40 characters; names may be 255.
KEY_LIMIT, NAME_LIMIT = 40, 255
STATES = {
    "pending": "INPROGRESS",
    "running": "INPROGRESS",
    "success": "SUCCESSFUL",
    "failed": "FAILED",
    "canceled": "STOPPED",
}
# git's user name with an e-mail-bound API token (a fixed name, not a secret)
API_TOKEN_GIT_USERNAME = "x-bitbucket-api-token-auth"  # noqa: S105


class BitbucketClient:
    def __init__(self, conn: Connection) -> None:
        self._run = BlockingCalls(conn, lambda: open_calls(conn))

    async def list_namespaces(self) -> list[Namespace]:
        def work(calls: Calls) -> list[Namespace]:
            try:
                return [models.workspace(entry) for entry in calls.get_all("/user/workspaces")]
            except requests.HTTPError as exc:  # older API: /workspaces lists the same
                if status_of(exc) != 404:
                    raise
            return [models.workspace(entry) for entry in calls.get_all("/workspaces")]

        return await self._run(work, factor=LIST_DEADLINE)

    async def list_repositories(self, namespace: str) -> list[SourceRepository]:
        path = f"/repositories/{models.segment(namespace, 'workspace')}"
        gone = f"workspace {namespace} does not exist or the credentials cannot see it"
        return await self._run(
            lambda calls: [models.repository(repo) for repo in calls.get_all(path)],
            details={404: gone},
            factor=LIST_DEADLINE,
        )

    async def get_repository(self, full_path: str) -> SourceRepository:
        path = models.repo_path(full_path)
        gone = f"repository {full_path} does not exist"
        return await self._run(
            lambda calls: models.repository(calls.get(path)), details={404: gone}
        )

    async def create_hook(self, full_path: str, url: str, secret: str) -> Hook:
        path = models.repo_path(full_path) + "/hooks"
        data = {
            "description": "buildsvc",
            "url": url,
            "active": True,
            "events": ["repo:push"],
            "secret": secret,
            "skip_cert_verification": False,
        }
        denied = f"the user may not manage webhooks on {full_path} (needs admin rights on it)"
        details = {403: denied, 404: f"repository {full_path} does not exist"}
        return await self._run(lambda calls: models.hook(calls.post(path, data)), details=details)

    async def get_hook(self, full_path: str, hook_id: str) -> Hook | None:
        path = f"{models.repo_path(full_path)}/hooks/{quote(hook_id, safe='')}"
        return await self._run(lambda calls: calls.find(path, models.hook))

    async def delete_hook(self, full_path: str, hook_id: str) -> None:
        path = f"{models.repo_path(full_path)}/hooks/{quote(hook_id, safe='')}"
        denied = f"the user may not manage webhooks on {full_path} (needs admin rights on it)"
        await self._run(lambda calls: calls.delete_if_present(path), details={403: denied})

    async def resolve_ref(self, full_path: str, ref: str) -> str:
        base = models.repo_path(full_path)
        sha = await self._run(lambda calls: _resolve(calls, base, ref))
        return found_ref(sha, ref, full_path)

    async def commit_message(self, full_path: str, sha: str) -> str:
        path = f"{models.repo_path(full_path)}/commit/{quote(sha, safe='')}"
        gone = f"no commit {sha} in {full_path}"
        return await self._run(
            lambda calls: message_of(calls.get(path), "a commit"), details={404: gone}
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
        path = f"{models.repo_path(full_path)}/commit/{sha}/statuses/build"
        data = {
            "key": bounded(context, KEY_LIMIT),
            "state": STATES[state],
            "name": bounded(context, NAME_LIMIT),
            "url": target_url,
            "description": description[:255],
        }
        await self._run(lambda calls: calls.post(path, data))


def _resolve(calls: Calls, base: str, ref: str) -> str | None:
    """Full refs go to their endpoint; a short name tries branch, tag, then commit."""

    def at(kind: str, name: str) -> Callable[[], object]:
        return lambda: calls.get(f"{base}/{kind}/{quote(name, safe='')}")

    if ref.startswith("refs/heads/"):
        attempts = [at("refs/branches", ref.removeprefix("refs/heads/"))]
    elif ref.startswith("refs/tags/"):
        attempts = [at("refs/tags", ref.removeprefix("refs/tags/"))]
    else:
        attempts = [at("refs/branches", ref), at("refs/tags", ref), at("commit", ref)]
        if HEXISH.fullmatch(ref):
            attempts.insert(0, attempts.pop())
    for attempt in attempts:
        try:
            return models.target_sha(attempt(), "a branch, tag or commit")
        except requests.HTTPError as exc:
            if status_of(exc) != 404:
                raise
    return None


class BitbucketProvider:
    name: ProviderName = "bitbucket"

    def __init__(self, settings: Settings) -> None:
        self._policy = AddressPolicy.from_cidrs(settings.allowed_source_networks)
        self._timeout = settings.source_timeout_seconds

    def _connection(
        self, root_url: str, api_url: str, credentials: Credentials, *, bearer: bool
    ) -> Connection:
        return Connection(
            flavour="cloud",
            root_url=root_url,
            api_url=api_url,
            username=credentials.username,
            token=credentials.token,
            bearer=bearer,
            policy=self._policy,
            timeout=self._timeout,
            ca_file=ca_file(credentials.ca_cert) if credentials.ca_cert else None,
        )

    async def bind(self, credentials: Credentials) -> Binding:
        check_credentials(
            credentials, self.name, "username and token (app password or access token) needed"
        )
        root_url, api_url = root_and_api(parse_root_url(credentials.url, self.name))
        conn = self._connection(root_url, api_url, credentials, bearer=False)
        ctx = conn.context(status=422)
        api = parse_root_url(api_url.removesuffix("/2.0"), self.name)
        return await run_bind(
            lambda: check_binding(conn),
            ctx,
            host=api.host,
            port=api.port,
            policy=self._policy,
            request_timeout=self._timeout,
        )

    def client(self, binding: Binding, credentials: Credentials) -> BitbucketClient:
        bearer = binding.api_version == BEARER
        return BitbucketClient(
            self._connection(binding.url, binding.api_url, credentials, bearer=bearer)
        )

    def git_credentials(self, binding: Binding, credentials: Credentials) -> tuple[str, str]:
        if binding.api_version == BEARER:
            return TOKEN_USERNAME, credentials.token
        if "@" in binding.username:  # an Atlassian API token bound with the e-mail address
            return API_TOKEN_GIT_USERNAME, credentials.token
        return binding.username, credentials.token
