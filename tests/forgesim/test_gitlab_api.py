"""python-gitlab, unmodified, against forgesim's GitLab API v4: every call buildsvc makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from forgesim import Forge
from tests.forgesim.conftest import World, commit_file


def test_auth_user_and_version(gl: gitlab.Gitlab, forge: Forge) -> None:
    gl.auth()
    assert gl.user is not None
    assert gl.user.username == "alice"
    assert gl.user.web_url == f"{forge.url}/alice"
    assert gl.version()[0] == "17.5.0"


def test_token_introspection(gl: gitlab.Gitlab, world: World) -> None:
    token = gl.personal_access_tokens.get("self")
    assert token.scopes == ["api"]
    assert token.active is True
    assert token.revoked is False
    assert token.user_id == 1
    assert token.expires_at is None
    assert token.last_used_at is not None


def test_introspection_shows_expiry_and_scopes(forge: Forge, world: World) -> None:
    secret = forge.admin.create_token("alice", ["read_user"], expires_at="2999-01-01")
    token = gitlab.Gitlab(forge.url, private_token=secret).personal_access_tokens.get("self")
    assert (token.scopes, token.expires_at, token.active) == (["read_user"], "2999-01-01", True)


def test_namespaces_and_groups(gl: gitlab.Gitlab, forge: Forge, world: World) -> None:
    forge.admin.create_namespace("acme/platform")
    forge.admin.create_namespace("other", members={"bob": "owner"})
    paths = sorted(ns.full_path for ns in gl.namespaces.list(get_all=True))
    assert paths == ["acme", "acme/platform", "alice"]
    assert [g.full_path for g in gl.groups.list(get_all=True)] == ["acme", "acme/platform"]
    maintained = gl.groups.list(min_access_level=40, get_all=True)
    assert [g.full_path for g in maintained] == ["acme", "acme/platform"]
    assert gl.groups.list(min_access_level=50, get_all=True) == []
    group = gl.groups.get("acme")
    assert (group.full_path, group.visibility) == ("acme", "private")
    assert gl.groups.get(group.id).name == "acme"


def test_projects_filters(gl_as: Any, forge: Forge, world: World) -> None:
    forge.admin.create_repository("alice", "personal")
    forge.admin.create_repository("acme", "public-site", private=False)
    alice = gl_as("alice")
    member = {p.path_with_namespace for p in alice.projects.list(membership=True, get_all=True)}
    assert member == {"acme/app", "acme/public-site", "alice/personal"}
    owned = [p.path_with_namespace for p in alice.projects.list(owned=True, get_all=True)]
    assert owned == ["alice/personal"]
    found = alice.projects.list(search="site", get_all=True)
    assert [p.path for p in found] == ["public-site"]
    dave = gl_as("dave")
    assert [p.path for p in dave.projects.list(get_all=True)] == ["public-site"]
    assert dave.projects.list(membership=True, get_all=True) == []
    carol = gl_as("carol")
    assert carol.projects.list(min_access_level=30, get_all=True) == []


def test_project_by_id_and_path(gl: gitlab.Gitlab, forge: Forge, world: World) -> None:
    project = gl.projects.get("acme/app")
    assert project.path_with_namespace == "acme/app"
    assert project.http_url_to_repo == forge.git_url("acme/app")
    assert project.visibility == "private"
    assert project.default_branch == "main"
    assert project.namespace["full_path"] == "acme"
    assert project.permissions["group_access"]["access_level"] == 40
    assert gl.projects.get(project.id).id == project.id


def test_group_projects_include_subgroups(gl: gitlab.Gitlab, forge: Forge, world: World) -> None:
    forge.admin.create_namespace("acme/platform")
    forge.admin.create_repository("acme/platform", "api")
    group = gl.groups.get("acme")
    direct = [p.path_with_namespace for p in group.projects.list(get_all=True)]
    nested = group.projects.list(include_subgroups=True, get_all=True)
    assert direct == ["acme/app"]
    assert sorted(p.path_with_namespace for p in nested) == ["acme/app", "acme/platform/api"]


def _push_history(forge: Forge, world: World, git: Any, tmp_path: Path) -> tuple[str, str]:
    work = tmp_path / "work"
    git("clone", "-q", forge.git_url_with_token("acme/app", world.tokens["alice"]), str(work))
    first = commit_file(git, work, "README.md", "hello\n", "first commit")
    second = commit_file(git, work, "app/main.py", "print(1)\n", "add app\n\nbody")
    git("tag", "-a", "v1.0.0", "-m", "release 1", cwd=work)
    git("tag", "light", first, cwd=work)
    git("push", "-q", "origin", "HEAD:main", "HEAD:refs/heads/feature/x", "--tags", cwd=work)
    return first, second


def test_branches_tags_commits(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    first, second = _push_history(forge, world, git, tmp_path)
    project = gl.projects.get("acme/app")
    branches = {b.name: b for b in project.branches.list(get_all=True)}
    assert set(branches) == {"main", "feature/x"}
    assert branches["main"].commit["id"] == second
    assert branches["main"].default is True
    one = project.branches.get("feature/x")
    assert one.commit["parent_ids"] == [first]
    assert one.commit["title"] == "add app"
    tags = {t.name: t for t in project.tags.list(get_all=True)}
    assert tags["v1.0.0"].commit["id"] == second
    assert tags["v1.0.0"].message == "release 1\n"
    assert tags["light"].commit["id"] == first
    commit = project.commits.get(first)
    assert (commit.id, commit.title, commit.parent_ids) == (first, "first commit", [])
    assert project.commits.get("main").id == second


def test_missing_branch_and_commit_are_404(gl: gitlab.Gitlab, world: World) -> None:
    project = gl.projects.get("acme/app")
    with pytest.raises(gitlab.GitlabGetError) as caught:
        project.branches.get("nope")
    assert caught.value.response_code == 404
    assert caught.value.error_message == "404 Branch Not Found"
    resp = requests.get(
        f"{gl.api_url}/projects/{project.id}/repository/commits/{'a' * 40}",
        headers={"PRIVATE-TOKEN": gl.private_token or ""},
        timeout=5,
    )
    assert (resp.status_code, resp.json()) == (404, {"message": "404 Commit Not Found"})


def test_commit_statuses(gl_as: Any, forge: Forge, world: World, git: Any, tmp_path: Path) -> None:
    _, sha = _push_history(forge, world, git, tmp_path)
    project = gl_as("bob").projects.get("acme/app")
    commit = project.commits.get(sha)
    status = commit.statuses.create(
        {"state": "running", "name": "buildsvc", "target_url": "http://127.0.0.1/b/1"}
    )
    assert (status.status, status.name, status.sha) == ("running", "buildsvc", sha)
    commit.statuses.create({"state": "success", "name": "buildsvc", "description": "built"})
    listed = commit.statuses.list(get_all=True)
    assert [(s.status, s.description) for s in listed] == [("success", "built")]
    assert listed[0].author["username"] == "bob"
    carol = gl_as("carol").projects.get("acme/app").commits.get(sha)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        carol.statuses.create({"state": "failed", "name": "x"})
    assert caught.value.response_code == 403


def test_status_needs_valid_state(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    _, sha = _push_history(forge, world, git, tmp_path)
    commit = gl.projects.get("acme/app").commits.get(sha)
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        commit.statuses.create({"state": "bogus"})
    assert caught.value.response_code == 400
