"""Refusals as Bitbucket Cloud words them: bad, expired and revoked credentials (401 with
``WWW-Authenticate``), missing scopes (403 with the required scope), private
repositories and hooks without admin rights (403), missing repositories (404)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests import HTTPError

from tests.forgesim.bitbucket_world import BitbucketWorld, cloud, world_at

HOOK = {"url": "http://127.0.0.1:9/hook", "description": "ci", "events": ["repo:push"]}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[BitbucketWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def test_bad_expired_and_revoked_credentials_are_401(world: BitbucketWorld) -> None:
    expired = world.forge.admin.create_token("alice", ["account"], expires_at="2020-01-01")
    revoked = world.forge.admin.create_token("alice", ["account"])
    world.forge.admin.revoke_token(revoked)
    clients = [
        cloud(world.forge, "alice", "wrong-password"),
        cloud(world.forge, "bob", world.tokens["alice"]),  # someone else's app password
        cloud(world.forge, "alice", expired),
        cloud(world.forge, "alice", revoked, bearer=True),
    ]
    for client in clients:
        with pytest.raises(HTTPError) as caught:
            client.get("user")
        response = caught.value.response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Bitbucket.org HTTP"'
        assert response.text.startswith("Login failed")


def test_email_works_as_username(world: BitbucketWorld) -> None:
    client = cloud(world.forge, "alice@example.com", world.tokens["alice"])
    assert client.get("user")["nickname"] == "alice"


def test_missing_scope_is_403_with_details(world: BitbucketWorld) -> None:
    token = world.forge.admin.create_token("alice", ["account"])
    with pytest.raises(HTTPError) as caught:
        cloud(world.forge, "alice", token).repositories.get("acme", "app")
    assert caught.value.response.status_code == 403
    assert caught.value.response.json()["error"] == {
        "message": "Your credentials lack one or more required privilege scopes.",
        "detail": {"required": ["repository"], "granted": ["account"]},
    }
    no_hooks = world.forge.admin.create_token("alice", ["repository:admin", "repository"])
    repo = cloud(world.forge, "alice", no_hooks).repositories.get("acme", "app")
    with pytest.raises(HTTPError) as hooks:
        list(repo.hooks.each())
    assert hooks.value.response.json()["error"]["detail"]["required"] == ["webhook"]


def test_private_repository_is_forbidden_and_missing_is_404(world: BitbucketWorld) -> None:
    with pytest.raises(HTTPError) as outsider:
        world.cloud("dave").repositories.get("acme", "app")
    assert outsider.value.response.status_code == 403
    assert str(outsider.value) == "Access denied. You must have write or admin access."
    anonymous = requests.get(world.forge.api_url + "/repositories/acme/app", timeout=5)
    assert anonymous.status_code == 403
    assert requests.get(world.forge.api_url + "/repositories/acme/site", timeout=5).ok
    with pytest.raises(HTTPError) as missing:
        world.cloud().repositories.get("acme", "nope")
    assert missing.value.response.status_code == 404
    assert missing.value.response.json()["type"] == "error"


def test_hooks_need_admin_rights(world: BitbucketWorld) -> None:
    repo = world.cloud("bob").repositories.get("acme", "app")
    with pytest.raises(HTTPError) as caught:
        repo.hooks.create(**HOOK)
    assert caught.value.response.status_code == 403
    with pytest.raises(HTTPError):
        list(repo.hooks.each())


def test_anonymous_user_and_unknown_route(world: BitbucketWorld) -> None:
    assert requests.get(world.forge.api_url + "/user", timeout=5).status_code == 401
    resp = requests.get(world.forge.api_url + "/nothing/here", timeout=5)
    assert (resp.status_code, resp.json()["error"]["message"]) == (404, "Resource not found")
