"""Refusals as Bitbucket Server words them: 401 with an ``errors`` list for bad, expired
and revoked tokens and for missing permissions (person or token), 404 for what does
not exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from atlassian import Bitbucket
from requests import HTTPError

from tests.forgesim.bitbucket_server_world import ServerWorld, client, world_at

FAILED = "Authentication failed. Please check your credentials and try again."
NOT_PERMITTED = "You are not permitted to access this resource"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ServerWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _hook(bb: Bitbucket) -> None:
    bb.create_webhook(
        "PRJ", "app", "ci", ["repo:refs_changed"], "http://127.0.0.1:9/hook", True, secret="s"
    )


def test_bad_expired_and_revoked_tokens(world: ServerWorld) -> None:
    expired = world.forge.admin.create_token("alice", ["REPO_ADMIN"], expires_at="2020-01-01")
    revoked = world.forge.admin.create_token("alice", ["REPO_ADMIN"])
    world.forge.admin.revoke_token(revoked)
    clients = [
        client(world.forge, "alice", "nope"),
        client(world.forge, "alice", expired, bearer=True),
        client(world.forge, "alice", revoked),
        client(world.forge, "bob", world.tokens["alice"]),  # not bob's token
    ]
    for bb in clients:
        with pytest.raises(HTTPError) as caught:
            bb.get_repo("PRJ", "site")
        assert caught.value.response.status_code == 401
        assert str(caught.value) == FAILED
        errors = caught.value.response.json()["errors"]
        assert errors[0]["exceptionName"].endswith("IncorrectPasswordAuthenticationException")


def test_private_repository_needs_permission(world: ServerWorld) -> None:
    with pytest.raises(HTTPError) as outsider:
        world.client("dave").get_repo("PRJ", "app")
    assert (outsider.value.response.status_code, str(outsider.value)) == (401, NOT_PERMITTED)
    anonymous = requests.get(world.forge.api_url + "/projects/PRJ/repos/app", timeout=5)
    assert anonymous.status_code == 401
    public = requests.get(world.forge.api_url + "/projects/PRJ/repos/site", timeout=5)
    assert public.json()["public"] is True


def test_webhooks_need_repo_admin(world: ServerWorld) -> None:
    with pytest.raises(HTTPError) as person:
        _hook(world.client("bob"))
    assert (person.value.response.status_code, str(person.value)) == (401, NOT_PERMITTED)
    read_token = world.forge.admin.create_token("alice", ["REPO_READ"])
    with pytest.raises(HTTPError) as token:
        _hook(client(world.forge, "alice", read_token))
    assert token.value.response.status_code == 401
    project_admin = world.forge.admin.create_token("alice", ["PROJECT_ADMIN"])
    _hook(client(world.forge, "alice", project_admin, bearer=True))


def test_unknown_route(world: ServerWorld) -> None:
    resp = requests.get(world.forge.url + "/rest/api/1.0/nothing", timeout=5)
    assert resp.status_code == 404
    assert "errors" in resp.json()
