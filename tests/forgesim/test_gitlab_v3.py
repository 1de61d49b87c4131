"""API v3 (GitLab 8-10 shapes) and the version modes that simulate older instances."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

import forgesim
from forgesim import Forge
from tests.forgesim.conftest import World, commit_file, seed


def v3(forge: Forge, path: str, token: str, method: str = "GET", **kw: Any) -> requests.Response:
    url = f"{forge.url}/api/v3{path}"
    return requests.request(method, url, headers={"PRIVATE-TOKEN": token}, timeout=5, **kw)


@pytest.fixture
def old_forge(tmp_path: Path) -> Iterator[tuple[Forge, World]]:
    with forgesim.running("gitlab", tmp_path / "forge", gitlab_mode="v3-only") as forge:
        yield forge, seed(forge)


def test_v3_user_and_projects(forge: Forge, world: World) -> None:
    token = world.tokens["alice"]
    user = v3(forge, "/user", token).json()
    assert (user["username"], user["is_admin"]) == ("alice", False)
    (project,) = v3(forge, "/projects", token).json()
    assert project["path_with_namespace"] == "acme/app"
    assert (project["public"], project["visibility_level"]) == (False, 0)
    assert "visibility" not in project
    assert project["permissions"]["group_access"]["access_level"] == 40
    one = v3(forge, "/projects/acme%2Fapp", token).json()
    assert one["id"] == project["id"]
    assert v3(forge, "/projects", world.tokens["dave"]).json() == []


def test_v3_owned_groups_namespaces(forge: Forge, world: World) -> None:
    forge.admin.create_repository("alice", "mine")
    token = world.tokens["alice"]
    owned = v3(forge, "/projects/owned", token).json()
    assert [p["path_with_namespace"] for p in owned] == ["alice/mine"]
    assert owned[0]["owner"]["username"] == "alice"
    groups = v3(forge, "/groups", token).json()
    assert [(g["path"], g["visibility_level"]) for g in groups] == [("acme", 0)]
    kinds = {n["path"]: n["kind"] for n in v3(forge, "/namespaces", token).json()}
    assert kinds == {"alice": "user", "acme": "group"}
    projects = v3(forge, "/groups/acme/projects", token)
    assert projects.headers["X-Total"] == "1"


def test_v3_has_no_token_introspection(forge: Forge, world: World) -> None:
    resp = v3(forge, "/personal_access_tokens/self", world.tokens["alice"])
    assert (resp.status_code, resp.json()) == (404, {"error": "404 Not Found"})


def test_v3_hooks(forge: Forge, world: World, receiver: Any) -> None:
    token = world.tokens["alice"]
    body = {"url": receiver.url, "push_events": True, "build_events": True, "token": "t"}
    created = v3(forge, "/projects/acme%2Fapp/hooks", token, "POST", json=body)
    assert created.status_code == 201
    hook = created.json()
    assert hook["build_events"] is True
    assert "job_events" not in hook
    assert "alert_status" not in hook
    listed = v3(forge, "/projects/acme%2Fapp/hooks", token).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    denied = v3(forge, "/projects/acme%2Fapp/hooks", world.tokens["bob"], "POST", json=body)
    assert (denied.status_code, denied.json()) == (403, {"message": "403 Forbidden"})
    deleted = v3(forge, f"/projects/acme%2Fapp/hooks/{hook['id']}", token, "DELETE")
    assert (deleted.status_code, deleted.json()["id"]) == (200, hook["id"])


def test_v3_branches_tags_commits_statuses_and_refusals(
    forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    git("clone", "-q", forge.git_url_with_token("acme/app", world.tokens["alice"]), str(work))
    sha = commit_file(git, work, "Dockerfile", "FROM scratch\n", "first")
    git("tag", "v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", "v1", cwd=work)
    token, project = world.tokens["bob"], "/projects/acme%2Fapp"
    branches = v3(forge, project + "/repository/branches", token).json()
    assert [(b["name"], b["commit"]["id"]) for b in branches] == [("main", sha)]
    assert v3(forge, project + "/repository/branches/main", token).json()["commit"]["id"] == sha
    assert [t["name"] for t in v3(forge, project + "/repository/tags", token).json()] == ["v1"]
    commit = v3(forge, f"{project}/repository/commits/{sha}", token).json()
    assert (commit["id"], commit["message"].strip()) == (sha, "first")
    posted = v3(forge, f"{project}/statuses/{sha}", token, "POST", json={"state": "running"})
    assert (posted.status_code, posted.json()["status"]) == (201, "running")
    statuses = v3(forge, f"{project}/repository/commits/{sha}/statuses", token).json()
    assert [s["status"] for s in statuses] == ["running"]
    forge.admin.revoke_token(token)
    assert v3(forge, "/user", token).status_code == 401
    expired = forge.admin.create_token("alice", ["api"], expires_at="2020-01-01")
    assert v3(forge, "/user", expired).status_code == 401
    hidden = v3(forge, project, world.tokens["dave"])
    assert (hidden.status_code, hidden.json()) == (404, {"message": "404 Project Not Found"})


def test_v3_only_mode(old_forge: tuple[Forge, World]) -> None:
    forge, world = old_forge
    token = world.tokens["alice"]
    resp = requests.get(forge.api_url + "/user", headers={"PRIVATE-TOKEN": token}, timeout=5)
    assert (resp.status_code, resp.json()) == (404, {"error": "404 Not Found"})
    assert v3(forge, "/user", token).json()["username"] == "alice"
    assert v3(forge, "/version", token).json()["version"] == "8.17.8"
    with pytest.raises(gitlab.GitlabGetError):
        gitlab.Gitlab(forge.url, private_token=token).auth()


def test_no_introspection_mode(tmp_path: Path) -> None:
    with forgesim.running("gitlab", tmp_path, gitlab_mode="no-introspection") as forge:
        world = seed(forge)
        client = gitlab.Gitlab(forge.url, private_token=world.tokens["alice"])
        client.auth()
        assert client.version()[0] == "15.4.0"
        with pytest.raises(gitlab.GitlabGetError) as caught:
            client.personal_access_tokens.get("self")
        assert caught.value.response_code == 404
        assert v3(forge, "/user", world.tokens["alice"]).status_code == 404


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="gitlab_mode"),
        forgesim.running("gitlab", tmp_path, gitlab_mode="v2"),
    ):
        pass
