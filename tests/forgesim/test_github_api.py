"""The GitHub REST subset buildsvc uses, driven with PyGithub (unmodified)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from github import GithubException, UnknownObjectException

from tests.forgesim.conftest import commit_file
from tests.forgesim.github_world import SCOPES, GitHubWorld, client, world_at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[GitHubWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _seed_commits(world: GitHubWorld, git: Any, tmp_path: Path) -> tuple[str, str]:
    work = tmp_path / "work"
    url = world.forge.git_url_with_token("acme/app", world.tokens["alice"], "x-access-token")
    git("clone", "-q", url, str(work))
    first = commit_file(git, work, "README.md", "hello\n", "first")
    second = commit_file(git, work, "src/app.py", "x = 1\ny = 2\n", "second")
    git("tag", "v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", "HEAD:feature", "v1", cwd=work)
    return first, second


def test_user_headers_and_scopes(world: GitHubWorld) -> None:
    gh = world.client()
    me = gh.get_user()
    assert (me.login, me.type, me.email) == ("alice", "User", "alice@example.com")
    assert gh.oauth_scopes == SCOPES
    resp = requests.get(
        world.forge.api_url + "/repos/acme/app",
        headers={"Authorization": f"Bearer {world.tokens['alice']}"},
        timeout=5,
    )
    assert resp.headers["X-OAuth-Scopes"] == "repo, admin:repo_hook, read:org"
    assert resp.headers["X-Accepted-OAuth-Scopes"] == "repo"
    assert resp.headers["X-RateLimit-Limit"] == "5000"
    assert int(resp.headers["X-RateLimit-Remaining"]) < 5000
    assert len(resp.headers["X-GitHub-Request-Id"]) == 24
    assert "plan" not in resp.json()["owner"]


def test_token_expiration_header(world: GitHubWorld) -> None:
    token = world.forge.admin.create_token("alice", ["repo"], expires_at="2999-01-31")
    resp = requests.get(
        world.forge.api_url + "/user", headers={"Authorization": f"token {token}"}, timeout=5
    )
    assert resp.headers["GitHub-Authentication-Token-Expiration"] == "2999-01-31 00:00:00 UTC"
    plain = {"Authorization": f"token {world.tokens['alice']}"}
    assert (
        "GitHub-Authentication-Token-Expiration"
        not in requests.get(world.forge.api_url + "/user", headers=plain, timeout=5).headers
    )


def test_user_scope_shows_private_profile(world: GitHubWorld) -> None:
    token = world.forge.admin.create_token("bob", ["user"])
    data = requests.get(
        world.forge.api_url + "/user", headers={"Authorization": f"token {token}"}, timeout=5
    ).json()
    assert data["plan"]["name"] == "enterprise"
    assert "total_private_repos" in data
    assert "plan" not in requests.get(world.forge.api_url + "/users/bob", timeout=5).json()


def test_organizations(world: GitHubWorld) -> None:
    assert [o.login for o in world.client().get_user().get_orgs()] == ["acme"]
    assert list(world.client("dave").get_user().get_orgs()) == []
    org = world.client().get_organization("acme")
    assert (org.login, org.type, org.public_repos, org.total_private_repos) == (
        "acme",
        "Organization",
        1,
        1,
    )
    assert sorted(r.full_name for r in org.get_repos()) == ["acme/app", "acme/site"]
    assert [r.full_name for r in org.get_repos(type="private")] == ["acme/app"]
    outsider = world.client("dave").get_organization("acme")
    assert [r.full_name for r in outsider.get_repos()] == ["acme/site"]
    with pytest.raises(UnknownObjectException):
        world.client().get_organization("nope").login  # noqa: B018 - lazy load


def test_user_repositories(world: GitHubWorld) -> None:
    me = world.client().get_user()
    assert [r.full_name for r in me.get_repos()] == ["acme/app", "acme/site", "alice/notes"]
    assert [r.full_name for r in me.get_repos(affiliation="owner")] == ["alice/notes"]
    assert [r.full_name for r in me.get_repos(visibility="private")] == ["acme/app"]
    bob = world.client("bob").get_user()
    assert [r.full_name for r in bob.get_repos(affiliation="organization_member")] == [
        "acme/app",
        "acme/site",
    ]
    assert list(world.client("dave").get_user().get_repos()) == []
    public = world.client("dave").get_user("alice").get_repos()
    assert [r.full_name for r in public] == ["alice/notes"]
    with pytest.raises(GithubException) as caught:
        list(me.get_repos(type="owner", visibility="all"))
    assert caught.value.status == 422


def test_repository(world: GitHubWorld) -> None:
    repo = world.client().get_repo("acme/app")
    assert (repo.private, repo.default_branch, repo.visibility) == (True, "main", "private")
    assert repo.clone_url == world.forge.git_url("acme/app")
    assert repo.html_url == world.forge.url + "/acme/app"
    assert repo.owner.login == "acme"
    assert repo.organization.login == "acme"
    assert repo.permissions.admin is True
    bob_view = world.client("bob").get_repo("acme/app").permissions
    assert (bob_view.admin, bob_view.push, bob_view.pull) == (False, True, True)


def test_branches_tags_commits_and_refs(world: GitHubWorld, git: Any, tmp_path: Path) -> None:
    repo = world.client().get_repo("acme/app")
    with pytest.raises(GithubException) as empty:
        repo.get_commit("main").sha  # noqa: B018 - lazy load
    assert (empty.value.status, empty.value.data["message"]) == (409, "Git Repository is empty.")
    first, second = _seed_commits(world, git, tmp_path)
    assert [(b.name, b.commit.sha) for b in repo.get_branches()] == [
        ("feature", second),
        ("main", second),
    ]
    branch = repo.get_branch("main")
    assert (branch.commit.sha, branch.commit.commit.message, branch.protected) == (
        second,
        "second",
        False,
    )
    assert [(t.name, t.commit.sha) for t in repo.get_tags()] == [("v1", second)]
    commit = repo.get_commit(second)
    assert [f.filename for f in commit.files] == ["src/app.py"]
    assert (commit.files[0].status, commit.stats.additions, commit.stats.total) == ("added", 2, 2)
    assert commit.parents[0].sha == first
    assert commit.author.login == "alice"
    assert repo.get_commit("v1").sha == second
    assert repo.get_git_ref("heads/main").object.sha == second
    refs = [r.ref for r in repo.get_git_refs()]
    assert refs == ["refs/heads/feature", "refs/heads/main", "refs/tags/v1"]
    with pytest.raises(GithubException) as missing:
        repo.get_commit("f" * 40).sha  # noqa: B018 - lazy load
    assert missing.value.status == 422
    with pytest.raises(GithubException) as gone:
        repo.get_branch("nope")
    assert gone.value.status == 404


def test_commit_statuses(world: GitHubWorld, git: Any, tmp_path: Path) -> None:
    _, sha = _seed_commits(world, git, tmp_path)
    commit = world.client("bob").get_repo("acme/app").get_commit(sha)
    commit.create_status("pending", "http://ci.example/1", "queued", "buildsvc")
    done = commit.create_status("success", "http://ci.example/1", "done", "buildsvc")
    commit.create_status("failure", description="lint", context="lint")
    assert (done.state, done.context, done.creator.login) == ("success", "buildsvc", "bob")
    assert [(s.state, s.context) for s in commit.get_statuses()] == [
        ("failure", "lint"),
        ("success", "buildsvc"),
        ("pending", "buildsvc"),
    ]
    combined = commit.get_combined_status()
    assert (combined.state, combined.total_count) == ("failure", 2)
    with pytest.raises(GithubException) as invalid:
        commit.create_status("bogus")
    assert invalid.value.status == 422
    reader = world.client("carol").get_repo("acme/app").get_commit(sha)
    with pytest.raises(UnknownObjectException):
        reader.create_status("success")


def test_unknown_route_and_anonymous_user(world: GitHubWorld) -> None:
    resp = requests.get(world.forge.api_url + "/nope", timeout=5)
    assert resp.status_code == 404
    assert resp.json()["message"] == "Not Found"
    anonymous = requests.get(world.forge.api_url + "/user", timeout=5)
    assert (anonymous.status_code, anonymous.json()["message"]) == (
        401,
        "Requires authentication",
    )
    assert anonymous.headers["X-RateLimit-Limit"] == "60"
    assert client(world.forge, world.tokens["carol"]).get_repo("acme/site").private is False
