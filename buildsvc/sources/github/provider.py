"""The GitHub code source (github.com and Enterprise): ``GitHubProvider`` and ``GitHubClient``.

Every call opens PyGithub over the pinned transport (``session.open_github``),
runs in a thread under a deadline and maps failures at the boundary
(``failures.run_blocking``). Namespaces are the user and their organizations.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from github import Github
from github.GithubException import GithubException, UnknownObjectException
from github.GithubObject import NotSet

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
from buildsvc.sources.common import (
    HEXISH,
    LIST_DEADLINE,
    BlockingCalls,
    as_dict,
    bounded,
    check_credentials,
    found_ref,
    message_of,
    run_bind,
)
from buildsvc.sources.github import models
from buildsvc.sources.github.bind import check_binding
from buildsvc.sources.github.session import Connection, open_github, root_and_api
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import ca_file
from buildsvc.sources.urls import parse_root_url

STATUS_CONTEXT_LIMIT = 255
# GitHub has no "running" or "canceled": running is still pending, canceled an error.
STATES: dict[str, str] = {
    "pending": "pending",
    "running": "pending",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
}
_LOGIN = re.compile(r"[A-Za-z0-9_.-]+")
NO_REF = (404, 409, 422)  # unknown branch, empty repository, "No commit found for SHA"


class GitHubClient:
    def __init__(self, conn: Connection, *, username: str, fine_grained: bool) -> None:
        self._run = BlockingCalls(conn, lambda: open_github(conn))
        self._username = username
        self._fine_grained = fine_grained

    async def list_namespaces(self) -> list[Namespace]:
        def work(gh: Github) -> list[Namespace]:
            user = gh.get_user()
            login = models.required(user.login, "/user login")
            mine = Namespace(path=login, name=user.name or login, kind="user")
            # /user/orgs carries no display name; reading .name would cost a GET per org.
            orgs = [models.required(org.login, "an organization login") for org in user.get_orgs()]
            return [mine, *(Namespace(path=org, name=org, kind="organization") for org in orgs)]

        return await self._run(work, factor=LIST_DEADLINE)

    async def list_repositories(self, namespace: str) -> list[SourceRepository]:
        if not _LOGIN.fullmatch(namespace):
            raise InvalidInput(detail=f"{namespace!r} is not a GitHub user or organization name")

        def work(gh: Github) -> list[SourceRepository]:
            if namespace.casefold() == self._username.casefold():
                repos = gh.get_user().get_repos(affiliation="owner")
            else:
                repos = gh.get_organization(namespace).get_repos(type="all")
            return [models.repository(repo) for repo in repos]

        gone = f"organization {namespace} does not exist or the token cannot see it"
        return await self._run(work, details={404: gone}, factor=LIST_DEADLINE)

    async def get_repository(self, full_path: str) -> SourceRepository:
        path = models.repo_path(full_path)
        gone = f"repository {full_path} does not exist or the token cannot see it"
        return await self._run(lambda gh: models.repository(gh.get_repo(path)), details={404: gone})

    def _hook_denied(self, full_path: str) -> dict[int, str]:
        if self._fine_grained:
            denied = (
                f"the token cannot manage webhooks on {full_path}: a fine-grained token "
                "needs Webhooks read and write permission"
            )
            return {403: denied, 404: denied}
        return {
            403: f"the user may not manage webhooks on {full_path} (needs admin rights on it)",
            404: f"repository {full_path} does not exist or the token cannot manage its webhooks",
        }

    async def create_hook(self, full_path: str, url: str, secret: str) -> Hook:
        path = models.repo_path(full_path)
        config = {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}

        def work(gh: Github) -> Hook:
            created = gh.get_repo(path).create_hook("web", config, events=["push"], active=True)
            return models.hook(created)

        return await self._run(work, details=self._hook_denied(full_path))

    async def get_hook(self, full_path: str, hook_id: str) -> Hook | None:
        path = models.repo_path(full_path)
        if not hook_id.isdigit():
            return None

        def work(gh: Github) -> Hook | None:
            try:
                return models.hook(gh.get_repo(path).get_hook(int(hook_id)))
            except UnknownObjectException:
                return None

        return await self._run(work, details=self._hook_denied(full_path))

    async def delete_hook(self, full_path: str, hook_id: str) -> None:
        path = models.repo_path(full_path)
        if not hook_id.isdigit():
            return

        def work(gh: Github) -> None:
            with contextlib.suppress(UnknownObjectException):  # already gone
                gh.get_repo(path).get_hook(int(hook_id)).delete()  # lazy: DELETE only

        await self._run(work, details={403: self._hook_denied(full_path)[403]})

    async def resolve_ref(self, full_path: str, ref: str) -> str:
        path = models.repo_path(full_path)
        sha = await self._run(lambda gh: _resolve(gh, path, ref))
        return found_ref(sha, ref, full_path)

    async def commit_message(self, full_path: str, sha: str) -> str:
        path = models.repo_path(full_path)

        def work(gh: Github) -> str:
            # One GET (PyGithub's Commit would need a second to complete itself).
            _headers, data = gh.requester.requestJsonAndCheck(
                "GET", f"/repos/{path}/commits/{quote(sha, safe='')}"
            )
            return message_of(as_dict(data, "a commit").get("commit"), "a commit")

        gone = f"no commit {sha} in {full_path}, or the token cannot see it"
        return await self._run(work, details={404: gone, 422: gone})

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
        path = models.repo_path(full_path)
        commit = models.commit_sha(sha, "a status request")

        def work(gh: Github) -> None:
            gh.get_repo(path).get_commit(commit).create_status(
                state=STATES[state],
                target_url=target_url or NotSet,  # GitHub refuses an empty URL
                description=description[:140],  # GitHub's limit
                context=bounded(context, STATUS_CONTEXT_LIMIT),
            )

        await self._run(work)


def _commit(gh: Github, path: str, ref: str) -> object:
    """``GET /repos/{path}/commits/{ref}``'s sha. Not ``get_commit(ref).sha``: a lazy
    Commit takes its sha from its URL, so it would answer ``ref`` without asking."""
    _headers, data = gh.requester.requestJsonAndCheck(
        "GET", f"/repos/{path}/commits/{quote(ref, safe='')}"
    )
    return data.get("sha") if isinstance(data, dict) else None


def _resolve(gh: Github, path: str, ref: str) -> str | None:
    """A branch by the branches endpoint; tags and shas by the commits endpoint."""
    repo = gh.get_repo(path)
    attempts: list[Callable[[], object]]
    if ref.startswith("refs/heads/"):
        attempts = [lambda: repo.get_branch(ref.removeprefix("refs/heads/")).commit.sha]
    elif ref.startswith("refs/tags/"):
        # GitHub's commits endpoint takes tags/NAME and peels annotated tags.
        attempts = [lambda: _commit(gh, path, "tags/" + ref.removeprefix("refs/tags/"))]
    else:
        attempts = [lambda: repo.get_branch(ref).commit.sha, lambda: _commit(gh, path, ref)]
        if HEXISH.fullmatch(ref):
            attempts.reverse()
    for attempt in attempts:
        try:
            return models.commit_sha(attempt(), "a commit")
        except GithubException as exc:
            if exc.status not in NO_REF:
                raise
    return None


class GitHubProvider:
    name: ProviderName = "github"

    def __init__(self, settings: Settings) -> None:
        self._policy = AddressPolicy.from_cidrs(settings.allowed_source_networks)
        self._timeout = settings.source_timeout_seconds
        self._warning_days = settings.token_expiry_warning_days

    def _connection(self, root_url: str, api_url: str, credentials: Credentials) -> Connection:
        return Connection(
            root_url=root_url,
            api_url=api_url,
            token=credentials.token,
            policy=self._policy,
            timeout=self._timeout,
            ca_file=ca_file(credentials.ca_cert) if credentials.ca_cert else None,
        )

    async def bind(self, credentials: Credentials) -> Binding:
        check_credentials(credentials, self.name)
        root_url, api_url = root_and_api(parse_root_url(credentials.url, self.name))
        conn = self._connection(root_url, api_url, credentials)
        not_github = f"no GitHub API answers at {api_url}; is {root_url} a GitHub instance?"
        ctx = conn.context(status=422, details={404: not_github})
        api = urlsplit(api_url)
        port = api.port or (443 if api.scheme == "https" else 80)
        today = dt.datetime.now(dt.UTC).date()
        return await run_bind(
            lambda: check_binding(conn, credentials.username, self._warning_days, today),
            ctx,
            host=api.hostname or "",
            port=port,
            policy=self._policy,
            request_timeout=self._timeout,
        )

    def client(self, binding: Binding, credentials: Credentials) -> GitHubClient:
        conn = self._connection(binding.url, binding.api_url, credentials)
        # Classic tokens always announce scopes (repo, admin:repo_hook at least).
        return GitHubClient(conn, username=binding.username, fine_grained=not binding.scopes)

    def git_credentials(self, binding: Binding, credentials: Credentials) -> tuple[str, str]:
        return "x-access-token", credentials.token
