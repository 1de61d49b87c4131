"""Refusals as GitHub words them: bad, expired and revoked tokens, missing scopes, hidden
private repositories, hooks without admin rights, and fine-grained tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from github import BadCredentialsException, GithubException, UnknownObjectException

from forgesim import AdminError
from tests.forgesim.github_world import GitHubWorld, client, fine_grained, world_at

HOOK = {"url": "http://127.0.0.1:9/hook", "content_type": "json"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[GitHubWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def test_bad_expired_and_revoked_tokens_are_401(world: GitHubWorld) -> None:
    expired = world.forge.admin.create_token("alice", ["repo"], expires_at="2020-01-01")
    revoked = world.forge.admin.create_token("alice", ["repo"])
    world.forge.admin.revoke_token(revoked)
    for token in ("not-a-token", expired, revoked):
        with pytest.raises(BadCredentialsException) as caught:
            client(world.forge, token).get_user().login  # noqa: B018 - lazy load
        assert caught.value.status == 401
        assert caught.value.data["message"] == "Bad credentials"
        assert "documentation_url" in caught.value.data


def test_private_repository_is_hidden(world: GitHubWorld) -> None:
    with pytest.raises(UnknownObjectException):
        world.client("dave").get_repo("acme/app")
    resp = requests.get(world.forge.api_url + "/repos/acme/app", timeout=5)
    assert (resp.status_code, resp.json()["message"]) == (404, "Not Found")
    no_repo_scope = world.forge.admin.create_token("alice", ["read:org"])
    with pytest.raises(UnknownObjectException):
        client(world.forge, no_repo_scope).get_repo("acme/app")
    assert client(world.forge, no_repo_scope).get_repo("acme/site").private is False


def test_hooks_need_admin_rights(world: GitHubWorld) -> None:
    repo = world.client("bob").get_repo("acme/app")
    with pytest.raises(GithubException) as caught:
        repo.create_hook("web", HOOK, ["push"], True)
    assert caught.value.status == 403
    assert caught.value.data["message"] == "Must have admin rights to Repository."
    with pytest.raises(GithubException) as listing:
        list(repo.get_hooks())
    assert listing.value.status == 403


def test_hooks_need_a_hook_scope(world: GitHubWorld) -> None:
    token = world.forge.admin.create_token("alice", ["read:org", "public_repo"])
    public = client(world.forge, token).get_repo("acme/site")
    with pytest.raises(UnknownObjectException):
        public.create_hook("web", HOOK, ["push"], True)
    resp = requests.get(
        world.forge.api_url + "/repos/acme/site/hooks",
        headers={"Authorization": f"token {token}"},
        timeout=5,
    )
    accepted = resp.headers["X-Accepted-OAuth-Scopes"]
    assert (resp.status_code, accepted) == (404, "read:repo_hook, repo")
    hooks_only = world.forge.admin.create_token("alice", ["admin:repo_hook"])
    private = client(world.forge, hooks_only, lazy=True).get_repo("acme/app")
    assert private.create_hook("web", HOOK, ["push"], True).id > 0


def test_user_orgs_need_read_org(world: GitHubWorld) -> None:
    token = world.forge.admin.create_token("alice", ["public_repo"])
    with pytest.raises(GithubException) as caught:
        list(client(world.forge, token).get_user().get_orgs())
    assert caught.value.status == 403
    assert "read:org" in caught.value.data["message"]


def test_fine_grained_token_has_no_scope_header(world: GitHubWorld) -> None:
    token = fine_grained(world.forge, "alice", contents="read")
    assert token.startswith("github_pat_")
    gh = client(world.forge, token)
    assert gh.get_user().login == "alice"
    assert gh.oauth_scopes is None
    resp = requests.get(
        world.forge.api_url + "/user", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert "X-OAuth-Scopes" not in resp.headers
    assert gh.get_repo("acme/app").private is True


def test_fine_grained_token_without_permission_is_403(world: GitHubWorld) -> None:
    token = fine_grained(world.forge, "alice", contents="read", statuses="read")
    repo = client(world.forge, token).get_repo("acme/app")
    with pytest.raises(GithubException) as caught:
        repo.create_hook("web", HOOK, ["push"], True)
    assert caught.value.status == 403
    assert caught.value.data["message"] == "Resource not accessible by personal access token"
    assert caught.value.headers["x-accepted-github-permissions"] == "webhooks=write"
    allowed = fine_grained(world.forge, "alice", webhooks="write")
    hook = client(world.forge, allowed).get_repo("acme/app").create_hook("web", HOOK)
    assert hook.events == ["push"]


def test_fine_grained_admin_route_validates(world: GitHubWorld) -> None:
    with pytest.raises(AdminError, match="read or write") as caught:
        fine_grained(world.forge, "alice", contents="admin")
    assert caught.value.status == 400


def test_fine_grained_tokens_expire_and_revoke(world: GitHubWorld) -> None:
    admin = world.forge.admin
    expired = admin.create_fine_grained_token("alice", {"contents": "read"}, "2020-01-01")
    revoked = admin.create_fine_grained_token("alice", {"contents": "read"}, name="ci")
    admin.revoke_token(revoked)
    for token in (expired, revoked):
        with pytest.raises(BadCredentialsException):
            client(world.forge, token).get_user().login  # noqa: B018 - lazy load
    later = admin.create_fine_grained_token("alice", {"contents": "read"}, "2999-01-31")
    assert client(world.forge, later).get_repo("acme/app").private is True
