"""The Bitbucket Cloud API 2.0 subset buildsvc uses, driven with atlassian-python-api's
``Cloud`` (unmodified)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from requests import HTTPError

from tests.forgesim.bitbucket_world import BitbucketWorld, world_at
from tests.forgesim.conftest import commit_file


@pytest.fixture
def world(tmp_path: Path) -> Iterator[BitbucketWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _seed_commits(world: BitbucketWorld, git: Any, tmp_path: Path) -> tuple[str, str]:
    work = tmp_path / "work"
    url = world.forge.git_url_with_token("acme/app", world.tokens["alice"], "x-token-auth")
    git("clone", "-q", url, str(work))
    first = commit_file(git, work, "README.md", "hello\n", "first")
    second = commit_file(git, work, "app.py", "print(1)\n", "second")
    git("tag", "-a", "v1", "-m", "release one", cwd=work)
    git("push", "-q", "origin", "HEAD:main", "HEAD:feature", "v1", cwd=work)
    return first, second


def test_current_user(world: BitbucketWorld) -> None:
    me = world.cloud().get("user")
    assert (me["type"], me["nickname"], me["display_name"]) == ("user", "alice", "Alice")
    assert me["uuid"].startswith("{")
    assert me["account_id"].startswith("557058:")
    assert world.cloud("bob", bearer=True).get("user")["nickname"] == "bob"


def test_workspaces(world: BitbucketWorld) -> None:
    cloud = world.cloud()
    assert sorted(w.slug for w in cloud.workspaces.each()) == ["acme", "alice"]
    assert [w.slug for w in world.cloud("dave").workspaces.each()] == ["dave"]
    acme = cloud.workspaces.get("acme")
    assert (acme.name, acme.is_private, acme.uuid.startswith("{")) == ("acme", True, True)
    assert cloud.workspaces.get(acme.uuid).slug == "acme"
    assert cloud.workspaces.exists("acme")
    assert not cloud.workspaces.exists("nope")
    memberships = cloud.get("user/permissions/workspaces")["values"]
    assert {(m["workspace"]["slug"], m["permission"]) for m in memberships} == {
        ("acme", "member"),
        ("alice", "owner"),
    }
    assert [w["slug"] for w in cloud.get("workspaces", params={"role": "owner"})["values"]] == [
        "alice"
    ]


def test_repositories(world: BitbucketWorld) -> None:
    acme = world.cloud().workspaces.get("acme")
    assert sorted(r.slug for r in acme.repositories.each()) == ["app", "site"]
    outsider = world.cloud("dave").workspaces
    assert [r.slug for r in outsider.get("acme").repositories.each()] == ["site"]
    world.forge.admin.create_namespace("hidden", members={"alice": "admin"})
    with pytest.raises(HTTPError) as hidden:
        outsider.get("hidden")
    assert hidden.value.response.status_code == 404
    member = sorted(r.slug for r in world.cloud("carol").repositories.each(role="member"))
    assert member == ["app", "site"]
    assert [r.slug for r in world.cloud("bob").repositories.each(role="admin")] == []
    repo = world.cloud().repositories.get("acme", "app")
    assert (repo.name, repo.is_private, repo.get_data("mainbranch")["name"]) == (
        "app",
        True,
        "main",
    )
    clone = {link["name"]: link["href"] for link in repo.get_data("links")["clone"]}
    assert clone["https"] == world.forge.git_url("acme/app").replace("://", "://alice@")
    assert repo.get_data("project")["key"] == "ACME"
    assert repo.get_data("workspace")["slug"] == "acme"


def test_refs_and_commits(world: BitbucketWorld, git: Any, tmp_path: Path) -> None:
    repo = world.cloud().repositories.get("acme", "app")
    assert list(repo.branches.each()) == []
    first, second = _seed_commits(world, git, tmp_path)
    assert sorted((b.name, b.hash) for b in repo.branches.each()) == [
        ("feature", second),
        ("main", second),
    ]
    assert repo.branches.get("main").hash == second
    tag = repo.tags.get("v1")
    assert (tag.name, tag.hash, tag.get_data("message")) == ("v1", second, "release one\n")
    assert [t.name for t in repo.tags.each()] == ["v1"]
    commit = repo.commits.get(second)
    assert (commit.hash, commit.message) == (second, "second\n")
    assert [p.hash for p in commit.parents()] == [first]
    assert commit.author.nickname == "alice"
    with pytest.raises(HTTPError) as missing:
        repo.branches.get("nope")
    assert missing.value.response.status_code == 404


def test_build_statuses(world: BitbucketWorld, git: Any, tmp_path: Path) -> None:
    _, sha = _seed_commits(world, git, tmp_path)
    commit = world.cloud("bob").repositories.get("acme", "app").commits.get(sha)
    created = commit.add_build("buildsvc", url="https://ci.example/1", refname="main")
    assert (created["state"], created["key"], created["refname"]) == (
        "INPROGRESS",
        "buildsvc",
        "main",
    )
    commit.add_build("buildsvc", url="https://ci.example/1", state="SUCCESSFUL")
    commit.add_build("lint", url="https://ci.example/2", state="FAILED")
    builds = {b.key: b for b in commit.builds()}
    assert builds["buildsvc"].successful
    assert builds["lint"].failed
    assert builds["buildsvc"].commit == sha
    assert commit.get_build("buildsvc").website == "https://ci.example/1"
    commit.get_build("lint").update(state="STOPPED")
    assert commit.get_build("lint").stopped
    with pytest.raises(HTTPError) as invalid:
        commit.add_build("x", state="BOGUS")
    assert invalid.value.response.status_code == 400
