"""The Bitbucket Server REST subset buildsvc uses, driven with atlassian-python-api's
``Bitbucket`` (unmodified)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests import HTTPError

from tests.forgesim.bitbucket_server_world import ServerWorld, world_at
from tests.forgesim.conftest import commit_file


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ServerWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _seed_commits(world: ServerWorld, git: Any, tmp_path: Path) -> tuple[str, str]:
    work = tmp_path / "work"
    url = world.forge.git_url_with_token("PRJ/app", world.tokens["alice"], "alice")
    git("clone", "-q", url, str(work))
    first = commit_file(git, work, "README.md", "hello\n", "first")
    second = commit_file(git, work, "app.py", "print(1)\n", "second")
    git("tag", "-a", "v1", "-m", "release", cwd=work)
    git("tag", "light", first, cwd=work)
    git("push", "-q", "origin", "HEAD:main", f"{first}:refs/heads/old", "v1", "light", cwd=work)
    return first, second


def test_server_version_and_users(world: ServerWorld) -> None:
    anonymous = requests.get(world.forge.api_url + "/application-properties", timeout=5)
    assert anonymous.json()["version"] == "8.19.1"
    assert anonymous.headers["Content-Type"] == "application/json;charset=UTF-8"
    bb = world.client()
    user = bb.get("rest/api/1.0/users/alice")
    assert (user["name"], user["slug"], user["type"]) == ("alice", "alice", "NORMAL")
    assert [u["name"] for u in bb.get_users(user_filter="ca")["values"]] == ["carol"]
    resp = requests.get(
        world.forge.api_url + "/users/bob",
        headers={"Authorization": f"Bearer {world.tokens['bob']}"},
        timeout=5,
    )
    assert (resp.headers["X-AUSERNAME"], resp.headers["X-AUSERID"]) == ("bob", "2")


def test_projects_and_repositories(world: ServerWorld) -> None:
    bb = world.client(bearer=True)
    assert [p["key"] for p in bb.project_list()] == ["PRJ"]
    assert bb.project("PRJ")["name"] == "PRJ"
    assert [r["slug"] for r in bb.repo_list("PRJ")] == ["app", "site"]
    assert [r["slug"] for r in world.client("dave").repo_list("PRJ")] == ["site"]
    repo = bb.get_repo("PRJ", "app")
    assert (repo["public"], repo["project"]["key"], repo["scmId"]) == (False, "PRJ", "git")
    clone = {link["name"]: link["href"] for link in repo["links"]["clone"]}
    assert clone["http"] == world.forge.url.replace("://", "://alice@") + "/scm/prj/app.git"
    assert bb.get_repo("prj", "APP")["slug"] == "app"  # keys and slugs are case-insensitive
    with pytest.raises(HTTPError) as missing:
        bb.project("NOPE")
    assert missing.value.response.status_code == 404


def test_branches_tags_and_commits(world: ServerWorld, git: Any, tmp_path: Path) -> None:
    bb = world.client()
    first, second = _seed_commits(world, git, tmp_path)
    branches = list(bb.get_branches("PRJ", "app"))
    assert [(b["displayId"], b["latestCommit"], b["isDefault"]) for b in branches] == [
        ("main", second, True),
        ("old", first, False),
    ]
    assert bb.get_default_branch("PRJ", "app")["id"] == "refs/heads/main"
    assert [b["displayId"] for b in bb.get_branches("PRJ", "app", filter="ol")] == ["old"]
    tags = {t["displayId"]: t for t in bb.get_tags("PRJ", "app")}
    assert (tags["v1"]["latestCommit"], tags["light"]["latestCommit"]) == (second, first)
    assert tags["light"]["hash"] is None
    assert tags["v1"]["hash"] not in (None, second)  # the annotated tag object
    assert bb.get_project_tags("PRJ", "app", "v1")["latestCommit"] == second
    commit = bb.get_commit_info("PRJ", "app", second)
    assert (commit["message"], commit["parents"][0]["id"]) == ("second", first)
    assert commit["author"]["name"] == "alice"
    assert isinstance(commit["authorTimestamp"], int)
    with pytest.raises(HTTPError) as missing:
        bb.get_commit_info("PRJ", "app", "f" * 40)
    assert missing.value.response.status_code == 404


def test_build_statuses_both_ways(world: ServerWorld, git: Any, tmp_path: Path) -> None:
    _, sha = _seed_commits(world, git, tmp_path)
    bb = world.client("carol")
    legacy = {"state": "INPROGRESS", "key": "buildsvc", "url": "https://ci.example/1"}
    assert bb.post(f"rest/build-status/1.0/commits/{sha}", data=legacy) is None
    assert [s["state"] for s in bb.get_associated_build_statuses(sha)["values"]] == ["INPROGRESS"]
    newer = {**legacy, "state": "SUCCESSFUL", "buildNumber": "7", "ref": "refs/heads/main"}
    builds = f"rest/api/1.0/projects/PRJ/repos/app/commits/{sha}/builds"
    bb.post(builds, data=newer)
    status = bb.get(builds, params={"key": "buildsvc"})
    assert (status["state"], status["buildNumber"], status["ref"]) == (
        "SUCCESSFUL",
        "7",
        "refs/heads/main",
    )
    assert [s["state"] for s in bb.get_associated_build_statuses(sha)["values"]] == ["SUCCESSFUL"]
    with pytest.raises(HTTPError) as invalid:
        bb.post(f"rest/build-status/1.0/commits/{sha}", data={**legacy, "state": "DONE"})
    assert invalid.value.response.status_code == 400
