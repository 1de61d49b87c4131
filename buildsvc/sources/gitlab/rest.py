"""The GitLab REST calls the service makes, written once for API v4 and v3.

``RestCalls`` is the transport: python-gitlab's HTTP layer for v4 (``V4Calls``: its
auth, error classes and ``GitlabList`` pagination), a small requests client for v3
(``v3.V3Calls``; python-gitlab speaks v4 only). ``GitLabRest`` holds the
endpoints, which the two versions share except for a user's own projects and token
introspection. Everything here is blocking; ``provider.py`` runs it in threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import quote

import gitlab
import requests

PER_PAGE = 100
MAINTAINER = 40  # GitLab access level needed to manage a project's webhooks
GUEST = 10


class RestCalls(Protocol):
    def get(self, path: str, params: dict[str, Any] | None = None) -> object: ...
    def post(self, path: str, data: dict[str, Any]) -> object: ...
    def delete(self, path: str) -> None: ...
    def get_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[object]:
        """Every item of a paginated list, following the pages to the end."""
        ...


class ServiceGitlab(gitlab.Gitlab):
    """python-gitlab tuned for a service: fail fast, bounded.

    By default it sleeps out ``Retry-After`` on 429 (up to 10 times) inside our worker
    thread; here a 429 is an answer like any other and the caller decides.
    """

    def http_request(self, verb: str, path: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["obey_rate_limit"] = False
        kwargs["retry_transient_errors"] = False
        return super().http_request(verb, path, *args, **kwargs)


class V4Calls:
    def __init__(self, gl: gitlab.Gitlab) -> None:
        self._gl = gl

    def get(self, path: str, params: dict[str, Any] | None = None) -> object:
        return self._gl.http_get(path, query_data=params)

    def post(self, path: str, data: dict[str, Any]) -> object:
        return self._gl.http_post(path, post_data=data)

    def delete(self, path: str) -> None:
        self._gl.http_delete(path)

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[object]:
        yield from self._gl.http_list(path, query_data=params, iterator=True, per_page=PER_PAGE)


def open_v4(
    session: requests.Session, root_url: str, token: str, timeout: float, verify: bool | str
) -> V4Calls:
    gl = ServiceGitlab(
        url=root_url,
        private_token=token,
        timeout=timeout,
        ssl_verify=verify,
        per_page=PER_PAGE,
        # Follow "next" links only under the URL we checked, never wherever the
        # server's external_url points (and no warning about the difference).
        keep_base_url=True,
        user_agent="buildsvc",
        session=session,
    )
    return V4Calls(gl)


def _id(full_path: str) -> str:
    return quote(full_path, safe="")


class GitLabRest:
    def __init__(self, calls: RestCalls, api_version: str) -> None:
        self.calls = calls
        self.api_version = api_version

    def user(self) -> object:
        return self.calls.get("/user")

    def token_self(self) -> object:
        return self.calls.get("/personal_access_tokens/self")

    def check_api_scope(self) -> None:
        """A call that needs more than read_user: 403 insufficient_scope otherwise."""
        params: dict[str, Any] = {"per_page": 1}
        if self.api_version == "v4":
            params["min_access_level"] = MAINTAINER
        self.calls.get("/projects", params)

    def groups(self) -> Iterator[object]:
        params = {"min_access_level": GUEST} if self.api_version == "v4" else None
        return self.calls.get_all("/groups", params)

    def group_projects(self, group: str) -> Iterator[object]:
        return self.calls.get_all(f"/groups/{_id(group)}/projects")

    def user_projects(self, username: str) -> Iterator[object]:
        """The projects in the token user's own namespace (what they own there)."""
        if self.api_version == "v4":
            owned = self.calls.get_all("/projects", {"owned": "true"})
        else:
            owned = self.calls.get_all("/projects/owned")
        return (p for p in owned if _namespace_path(p).lower() == username.lower())

    def project(self, full_path: str) -> object:
        return self.calls.get(f"/projects/{_id(full_path)}")

    def create_hook(self, full_path: str, url: str, secret: str) -> object:
        data = {
            "url": url,
            "push_events": True,
            "tag_push_events": True,
            "merge_requests_events": False,
            "issues_events": False,
            "note_events": False,
            "token": secret,
            "enable_ssl_verification": True,
        }
        return self.calls.post(f"/projects/{_id(full_path)}/hooks", data)

    def hook(self, full_path: str, hook_id: str) -> object:
        return self.calls.get(f"/projects/{_id(full_path)}/hooks/{_id(hook_id)}")

    def delete_hook(self, full_path: str, hook_id: str) -> None:
        self.calls.delete(f"/projects/{_id(full_path)}/hooks/{_id(hook_id)}")

    def branch(self, full_path: str, name: str) -> object:
        return self.calls.get(f"/projects/{_id(full_path)}/repository/branches/{_id(name)}")

    def tag(self, full_path: str, name: str) -> object:
        return self.calls.get(f"/projects/{_id(full_path)}/repository/tags/{_id(name)}")

    def commit(self, full_path: str, ref: str) -> object:
        return self.calls.get(f"/projects/{_id(full_path)}/repository/commits/{_id(ref)}")

    def create_status(self, full_path: str, sha: str, data: dict[str, Any]) -> object:
        return self.calls.post(f"/projects/{_id(full_path)}/statuses/{_id(sha)}", data)


def _namespace_path(project: object) -> str:
    if isinstance(project, dict):
        namespace = project.get("namespace")
        if isinstance(namespace, dict):
            return str(namespace.get("path") or namespace.get("full_path") or "")
    return ""
