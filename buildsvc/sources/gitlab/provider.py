"""The GitLab code source: ``GitLabProvider`` (binding checks) and ``GitLabClient``.

Every call opens a connection (``session.open_rest``), runs the blocking REST
calls in a thread under a deadline and maps failures at the boundary
(``failures.run_blocking``). Self-managed GitLab 11+ is reached through python-gitlab
(API v4); GitLab 8-10 through the v3 transport.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from gitlab.exceptions import GitlabError

from buildsvc.config import Settings
from buildsvc.sources.base import (
    Binding,
    CommitState,
    Credentials,
    Hook,
    Namespace,
    ProviderName,
    SourceRepository,
)
from buildsvc.sources.common import (
    HEXISH,
    LIST_DEADLINE,
    BlockingCalls,
    as_dict,
    bounded,
    check_credentials,
    field_str,
    found_ref,
    message_of,
    run_bind,
)
from buildsvc.sources.gitlab import models
from buildsvc.sources.gitlab.bind import check_binding
from buildsvc.sources.gitlab.rest import GitLabRest
from buildsvc.sources.gitlab.session import Connection, open_rest
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import ca_file
from buildsvc.sources.urls import parse_root_url

STATUS_NAME_LIMIT = 255  # GitLab's limit on a commit status name


def _missing(exc: GitlabError) -> bool:
    return exc.response_code == 404


class GitLabClient:
    def __init__(self, conn: Connection) -> None:
        self._run = BlockingCalls(conn, lambda: open_rest(conn))

    async def list_namespaces(self) -> list[Namespace]:
        def work(rest: GitLabRest) -> list[Namespace]:
            user = as_dict(rest.user(), "/user")
            username = field_str(user, "username", "/user")
            mine = Namespace(path=username, name=str(user.get("name") or username), kind="user")
            return [mine, *(models.group_namespace(group) for group in rest.groups())]

        return await self._run(work, factor=LIST_DEADLINE)

    async def list_repositories(self, namespace: str) -> list[SourceRepository]:
        def work(rest: GitLabRest) -> list[SourceRepository]:
            try:
                return [models.repository(p) for p in rest.group_projects(namespace)]
            except GitlabError as exc:  # not a group: the token user's own namespace?
                user = as_dict(rest.user(), "/user")
                own = field_str(user, "username", "/user")
                if not _missing(exc) or own.casefold() != namespace.casefold():
                    raise
            return [models.repository(p) for p in rest.user_projects(own)]

        gone = f"namespace {namespace} does not exist or the token cannot see it"
        return await self._run(work, details={404: gone}, factor=LIST_DEADLINE)

    async def get_repository(self, full_path: str) -> SourceRepository:
        gone = f"project {full_path} does not exist or the token cannot see it"
        return await self._run(
            lambda rest: models.repository(rest.project(full_path)), details={404: gone}
        )

    async def create_hook(self, full_path: str, url: str, secret: str) -> Hook:
        details = {
            403: f"the user may not manage webhooks on {full_path} "
            "(needs Maintainer role: Settings > Webhooks)",
            404: f"project {full_path} does not exist or the token cannot see it",
        }
        return await self._run(
            lambda rest: models.hook(rest.create_hook(full_path, url, secret)), details=details
        )

    async def get_hook(self, full_path: str, hook_id: str) -> Hook | None:
        def work(rest: GitLabRest) -> Hook | None:
            try:
                return models.hook(rest.hook(full_path, hook_id))
            except GitlabError as exc:
                if _missing(exc):
                    return None
                raise

        return await self._run(work)

    async def delete_hook(self, full_path: str, hook_id: str) -> None:
        def work(rest: GitLabRest) -> None:
            try:
                rest.delete_hook(full_path, hook_id)
            except GitlabError as exc:
                if not _missing(exc):
                    raise

        denied = f"the user may not manage webhooks on {full_path} (needs Maintainer role)"
        await self._run(work, details={403: denied})

    async def resolve_ref(self, full_path: str, ref: str) -> str:
        return found_ref(
            await self._run(lambda rest: _resolve(rest, full_path, ref)), ref, full_path
        )

    async def commit_message(self, full_path: str, sha: str) -> str:
        gone = f"no commit {sha} in {full_path}, or the token cannot see it"
        return await self._run(
            lambda rest: message_of(rest.commit(full_path, sha), "a commit"), details={404: gone}
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
        data = {
            "state": state,
            "target_url": target_url,
            "description": description[:255],
            "name": bounded(context, STATUS_NAME_LIMIT),
        }
        await self._run(lambda rest: rest.create_status(full_path, sha, data))


def _resolve(rest: GitLabRest, full_path: str, ref: str) -> str | None:
    """Full refs go to their endpoint; a short name tries branch, tag, then commit."""
    attempts: list[Callable[[], object]]
    if ref.startswith("refs/heads/"):
        attempts = [lambda: _commit_of(rest.branch(full_path, ref.removeprefix("refs/heads/")))]
    elif ref.startswith("refs/tags/"):
        # The commits endpoint takes a full ref too: the fallback for servers without
        # the single-tag endpoint (older GitLab, forgesim).
        attempts = [
            lambda: _commit_of(rest.tag(full_path, ref.removeprefix("refs/tags/"))),
            lambda: rest.commit(full_path, ref),
        ]
    else:
        attempts = [
            lambda: _commit_of(rest.branch(full_path, ref)),
            lambda: _commit_of(rest.tag(full_path, ref)),
            lambda: rest.commit(full_path, ref),
        ]
        if HEXISH.fullmatch(ref):
            attempts.insert(0, attempts.pop())
    for attempt in attempts:
        try:
            return models.commit_sha(attempt(), "a commit")
        except GitlabError as exc:
            if not _missing(exc):
                raise
    return None


def _commit_of(answer: object) -> object:
    return as_dict(answer, "a branch or tag").get("commit")


class GitLabProvider:
    name: ProviderName = "gitlab"

    def __init__(self, settings: Settings) -> None:
        self._policy = AddressPolicy.from_cidrs(settings.allowed_source_networks)
        self._timeout = settings.source_timeout_seconds
        self._warning_days = settings.token_expiry_warning_days

    def _connection(self, url: str, credentials: Credentials, api_version: str) -> Connection:
        return Connection(
            root_url=url,
            token=credentials.token,
            policy=self._policy,
            timeout=self._timeout,
            ca_file=ca_file(credentials.ca_cert) if credentials.ca_cert else None,
            api_version=api_version,
        )

    async def bind(self, credentials: Credentials) -> Binding:
        check_credentials(credentials, self.name)
        root = parse_root_url(credentials.url, self.name)
        conn = self._connection(root.url, credentials, "v4")
        today = dt.datetime.now(dt.UTC).date()
        return await run_bind(
            lambda: check_binding(root, conn, credentials.username, self._warning_days, today),
            conn.context(status=422),
            host=root.host,
            port=root.port,
            policy=self._policy,
            request_timeout=self._timeout,
        )

    def client(self, binding: Binding, credentials: Credentials) -> GitLabClient:
        return GitLabClient(self._connection(binding.url, credentials, binding.api_version))

    def git_credentials(self, binding: Binding, credentials: Credentials) -> tuple[str, str]:
        # GitLab 9+ accepts any user name with a token ("oauth2" by convention); 8.x
        # wants the account's own name with a personal access token.
        username = binding.username if binding.api_version == "v3" else "oauth2"
        return username, credentials.token
