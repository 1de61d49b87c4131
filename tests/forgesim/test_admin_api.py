"""The admin API table of the issue, over raw HTTP, for every provider: users, tokens and
their revocation, namespaces, repositories, deliveries, faults (PUT / DELETE) and idle.

Each provider's "current user" call shows the effect: a token works, a revoked or
expired one is refused, a fault changes the answer until it is deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

import forgesim
from forgesim import Forge
from tests.forgesim.conftest import Receiver, World, commit_file

PROVIDERS = ["gitlab", "github", "bitbucket", "bitbucket-server"]
SCOPES = {
    "gitlab": ["api"],
    "github": ["repo", "admin:repo_hook", "read:org"],
    "bitbucket": ["account", "repository", "webhook"],
    "bitbucket-server": ["REPO_ADMIN"],
}
# Each forge's "who am I" call, relative to ``forge.url``, and how its token is sent.
WHOAMI: dict[str, tuple[str, Callable[[str], dict[str, str]]]] = {
    "gitlab": ("/api/v4/user", lambda token: {"PRIVATE-TOKEN": token}),
    "github": ("/api/v3/user", lambda token: {"Authorization": f"token {token}"}),
    "bitbucket": ("/2.0/user", lambda token: {"Authorization": f"Bearer {token}"}),
    "bitbucket-server": (
        "/rest/api/1.0/users/alice",
        lambda token: {"Authorization": f"Bearer {token}"},
    ),
}
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture(params=PROVIDERS)
def any_forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Forge]:
    with forgesim.running(request.param, tmp_path / "forge") as running:
        yield running


def admin(forge: Forge, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{forge.url}/_forgesim{path}", json=body, timeout=10)


def whoami(forge: Forge, token: str) -> requests.Response:
    path, headers = WHOAMI[forge.provider]
    return requests.get(forge.url + path, headers=headers(token), timeout=10)


def test_users_tokens_and_revocation(any_forge: Forge) -> None:
    forge = any_forge
    created = admin(forge, "POST", "/users", {"username": "alice"})
    assert (created.status_code, created.json()["username"]) == (201, "alice")
    issued = admin(
        forge,
        "POST",
        "/tokens",
        {"username": "alice", "scopes": SCOPES[forge.provider], "expires_at": None},
    )
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert whoami(forge, token).status_code == 200
    assert admin(forge, "POST", "/tokens/revoke", {"token": token}).status_code == 200
    assert whoami(forge, token).status_code == 401
    body = {"username": "alice", "scopes": SCOPES[forge.provider], "expires_at": "2020-01-31"}
    expired = admin(forge, "POST", "/tokens", body).json()["token"]
    assert whoami(forge, expired).status_code == 401
    body["expires_at"] = "2999-01-31"
    assert whoami(forge, admin(forge, "POST", "/tokens", body).json()["token"]).ok


def test_namespaces_and_repositories(any_forge: Forge) -> None:
    forge = any_forge
    admin(forge, "POST", "/users", {"username": "alice"})
    key = "PRJ" if forge.provider == "bitbucket-server" else "acme"
    members = {"alice": "maintainer"}
    made = admin(forge, "POST", "/namespaces", {"path": key, "members": members})
    assert made.status_code == 201
    body = {
        "namespace": key,
        "name": "app",
        "private": True,
        "default_branch": "main",
        "members": {},
    }
    repo = admin(forge, "POST", "/repositories", body)
    assert repo.status_code == 201
    assert set(repo.json()) == {"full_path", "clone_url", "id"}
    assert repo.json()["full_path"].lower() == f"{key}/app".lower()
    assert repo.json()["clone_url"] == forge.git_url(repo.json()["full_path"])
    personal = admin(forge, "POST", "/repositories", {"namespace": "alice", "name": "own"})
    assert (personal.status_code, personal.json()["full_path"]) == (201, "alice/own")
    assert admin(forge, "POST", "/repositories", body).status_code == 409


def test_deliveries_faults_and_idle(any_forge: Forge) -> None:
    forge = any_forge
    admin(forge, "POST", "/users", {"username": "alice"})
    token = admin(
        forge, "POST", "/tokens", {"username": "alice", "scopes": SCOPES[forge.provider]}
    ).json()["token"]
    assert admin(forge, "GET", "/deliveries").json() == []
    assert admin(forge, "GET", "/idle").json() == {"idle": True}
    path = WHOAMI[forge.provider][0]
    fault = {"path_regex": path + "$", "status": 502, "body": HTML}
    assert admin(forge, "PUT", "/faults", fault).status_code == 201
    failed = whoami(forge, token)
    assert (failed.status_code, failed.text) == (502, HTML)
    assert failed.headers["Content-Type"].startswith("text/html")
    assert admin(forge, "DELETE", "/faults").status_code == 200
    assert admin(forge, "GET", "/faults").json() == []
    assert whoami(forge, token).status_code == 200
    admin(forge, "PUT", "/faults", {"path_regex": path, "delay_ms": 300, "times": 1})
    started = time.monotonic()
    assert whoami(forge, token).status_code == 200
    assert time.monotonic() - started >= 0.3
    admin(forge, "PUT", "/faults", {"path_regex": path, "reset": True, "times": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        whoami(forge, token)
    assert whoami(forge, token).status_code == 200  # ``times`` used up


def test_idle_means_every_delivery_of_a_push_is_recorded(
    forge: Forge, world: World, git: Any, tmp_path: Path, receiver: Receiver
) -> None:
    gl = gitlab.Gitlab(forge.url, private_token=world.tokens["alice"])
    gl.projects.get("acme/app").hooks.create({"url": receiver.url, "tag_push_events": True})
    work = tmp_path / "work"
    git("clone", "-q", forge.git_url_with_token("acme/app", world.tokens["alice"]), str(work))
    commit_file(git, work, "a.txt", "a", "a")
    git("tag", "v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", "HEAD:other", "v1", cwd=work)
    forge.admin.wait_idle()  # no polling: the three deliveries are already recorded
    assert sorted(d["event"] for d in forge.admin.deliveries()) == [
        "Push Hook",
        "Push Hook",
        "Tag Push Hook",
    ]
    assert len(receiver.requests) == 3
