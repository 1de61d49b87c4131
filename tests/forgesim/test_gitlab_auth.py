"""Refusals exactly as GitLab words them: bad, expired and revoked tokens, missing scopes,
missing membership, private projects."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from forgesim import Forge
from tests.forgesim.conftest import World

INSUFFICIENT = "The request requires higher privileges than provided by the access token."


def get(forge: Forge, path: str, token: str | None = None, **headers: str) -> requests.Response:
    if token is not None:
        headers["PRIVATE-TOKEN"] = token
    return requests.get(forge.api_url + path, headers=headers, timeout=5)


def test_unknown_token_is_401(forge: Forge, world: World) -> None:
    resp = get(forge, "/user", "not-a-token")
    assert (resp.status_code, resp.json()) == (401, {"message": "401 Unauthorized"})
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(forge.url, private_token="not-a-token").auth()


def test_anonymous_user_is_401(forge: Forge) -> None:
    resp = get(forge, "/user")
    assert (resp.status_code, resp.json()) == (401, {"message": "401 Unauthorized"})


def test_expired_token_is_401(forge: Forge, world: World) -> None:
    token = forge.admin.create_token("alice", ["api"], expires_at="2020-01-01")
    resp = get(forge, "/user", token)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"
    assert resp.json()["error_description"].startswith("Token is expired.")
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(forge.url, private_token=token).auth()


def test_revoked_token_is_401(forge: Forge, world: World) -> None:
    token = world.tokens["alice"]
    assert get(forge, "/user", token).status_code == 200
    forge.admin.revoke_token(token)
    resp = get(forge, "/user", token)
    assert resp.status_code == 401
    assert resp.json() == {
        "error": "invalid_token",
        "error_description": "Token was revoked. You have to re-authorize from the user.",
    }


def test_bearer_header_works(forge: Forge, world: World) -> None:
    resp = get(forge, "/user", Authorization=f"Bearer {world.tokens['bob']}")
    assert resp.json()["username"] == "bob"
    oauth = gitlab.Gitlab(forge.url, oauth_token=world.tokens["bob"])
    oauth.auth()
    assert oauth.user is not None
    assert oauth.user.username == "bob"


def test_read_user_scope(forge: Forge, world: World) -> None:
    token = forge.admin.create_token("alice", ["read_user"])
    assert get(forge, "/user", token).status_code == 200
    assert get(forge, "/personal_access_tokens/self", token).json()["scopes"] == ["read_user"]
    resp = get(forge, "/projects", token)
    assert resp.status_code == 403
    assert resp.json() == {
        "error": "insufficient_scope",
        "error_description": INSUFFICIENT,
        "scope": "api read_api",
    }
    with pytest.raises(gitlab.GitlabListError) as caught:
        gitlab.Gitlab(forge.url, private_token=token).projects.list()
    assert caught.value.response_code == 403


def test_read_api_scope_allows_reads_only(forge: Forge, world: World, receiver: Any) -> None:
    token = forge.admin.create_token("alice", ["read_api"])
    client = gitlab.Gitlab(forge.url, private_token=token)
    project = client.projects.get("acme/app")
    assert project.hooks.list() == []
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.hooks.create({"url": receiver.url})
    assert caught.value.response_code == 403
    assert caught.value.error_message == "insufficient_scope"


def test_git_only_scope_cannot_use_the_api(forge: Forge, world: World) -> None:
    token = forge.admin.create_token("alice", ["read_repository"])
    resp = get(forge, "/user", token)
    assert resp.status_code == 403
    assert resp.json()["scope"] == "api read_api read_user"


def test_private_project_is_invisible_to_outsiders(forge: Forge, world: World) -> None:
    for token in (world.tokens["dave"], None):
        resp = get(forge, "/projects/acme%2Fapp", token)
        assert (resp.status_code, resp.json()) == (404, {"message": "404 Project Not Found"})
    with pytest.raises(gitlab.GitlabGetError) as caught:
        gitlab.Gitlab(forge.url, private_token=world.tokens["dave"]).projects.get("acme/app")
    assert caught.value.response_code == 404
    resp = get(forge, "/groups/acme", world.tokens["dave"])
    assert (resp.status_code, resp.json()) == (404, {"message": "404 Group Not Found"})


def test_hooks_need_maintainer(gl_as: Any, world: World, receiver: Any) -> None:
    for name in ("bob", "carol"):
        project = gl_as(name).projects.get("acme/app")
        with pytest.raises(gitlab.GitlabCreateError) as caught:
            project.hooks.create({"url": receiver.url, "push_events": True})
        assert caught.value.response_code == 403
        assert caught.value.error_message == "403 Forbidden"
        with pytest.raises(gitlab.GitlabListError):
            project.hooks.list()


def test_repository_contents_need_reporter(forge: Forge, world: World) -> None:
    forge.admin.create_repository("acme", "guarded", members={"dave": "guest"})
    resp = get(forge, "/projects/acme%2Fguarded", world.tokens["dave"])
    assert resp.status_code == 200
    resp = get(forge, "/projects/acme%2Fguarded/repository/branches", world.tokens["dave"])
    assert (resp.status_code, resp.json()) == (403, {"message": "403 Forbidden"})


def test_unknown_route_is_404(forge: Forge, world: World) -> None:
    resp = get(forge, "/no/such/route", world.tokens["alice"])
    assert (resp.status_code, resp.json()) == (404, {"error": "404 Not Found"})
