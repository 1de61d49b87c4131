"""Pagination across pages, injected faults and self-signed TLS, seen through
atlassian-python-api's ``Cloud``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests import HTTPError

from tests.forgesim.bitbucket_world import BitbucketWorld, cloud, world_at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[BitbucketWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def test_pagination_follows_next(world: BitbucketWorld) -> None:
    for index in range(250):
        world.forge.admin.create_repository("acme", f"svc-{index:03d}", private=index % 2 == 0)
    slugs = [r.slug for r in world.cloud().workspaces.get("acme").repositories.each()]
    assert len(slugs) == len(set(slugs)) == 252
    member = list(world.cloud("carol").repositories.each(role="member", pagelen=100))
    assert len(member) == 252
    public = list(world.cloud("dave").repositories.each(pagelen=100))
    assert len(public) == 126
    auth = ("alice", world.tokens["alice"])
    url = world.forge.api_url + "/repositories/acme?pagelen=100&page=2"
    page = requests.get(url, auth=auth, timeout=5).json()
    assert (page["pagelen"], page["size"], page["page"], len(page["values"])) == (100, 252, 2, 100)
    assert page["next"].endswith("page=3")
    assert page["previous"].endswith("page=1")
    too_big = requests.get(url.replace("pagelen=100", "pagelen=500"), auth=auth, timeout=5)
    assert too_big.status_code == 400


def test_injected_500_with_html(world: BitbucketWorld) -> None:
    world.forge.admin.set_fault(r"^/2.0/user$", status=500, body="<html><h1>Oops</h1></html>")
    with pytest.raises(HTTPError) as caught:
        world.cloud().get("user")
    assert caught.value.response.status_code == 500
    assert caught.value.response.headers["Content-Type"].startswith("text/html")
    assert caught.value.response.text == "<html><h1>Oops</h1></html>"
    world.forge.admin.clear_faults()
    assert world.cloud().get("user")["nickname"] == "alice"


def test_reset_connection(world: BitbucketWorld) -> None:
    world.forge.admin.set_fault(r"^/2.0/repositories/", reset=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        world.cloud().repositories.get("acme", "app")
    assert world.cloud().repositories.get("acme", "app").slug == "app"


def test_delay_beyond_client_timeout(world: BitbucketWorld) -> None:
    world.forge.admin.set_fault(r"^/2.0/user$", delay_ms=1500)
    with pytest.raises(requests.exceptions.Timeout):
        world.cloud(timeout=1).get("user")  # atlassian: whole seconds


def test_self_signed_tls(tmp_path: Path) -> None:
    with world_at(tmp_path / "tls", tls_self_signed=True) as world:
        with pytest.raises(requests.exceptions.SSLError):
            world.cloud().get("user")
        session = requests.Session()
        session.verify = str(world.forge.ca_file)
        trusted = cloud(world.forge, "alice", world.tokens["alice"], session=session)
        assert trusted.get("user")["nickname"] == "alice"
        assert trusted.repositories.get("acme", "app").slug == "app"
