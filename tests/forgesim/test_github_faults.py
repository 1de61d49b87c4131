"""Pagination across pages, injected faults and self-signed TLS, seen through PyGithub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from github import GithubException

from tests.forgesim.github_world import GitHubWorld, client, world_at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[GitHubWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def test_pagination_across_pages(world: GitHubWorld) -> None:
    for index in range(250):
        world.forge.admin.create_repository("acme", f"svc-{index:03d}", private=index % 2 == 0)
    org = world.client(per_page=100).get_organization("acme")
    names = [r.name for r in org.get_repos()]
    assert len(names) == 252
    assert len(set(names)) == 252
    assert org.get_repos().totalCount == 252
    outsider = world.client("dave", per_page=100).get_organization("acme").get_repos()
    assert outsider.totalCount == 126  # the public half plus acme/site
    url = world.forge.api_url + "/orgs/acme/repos?per_page=100&page=2"
    headers = {"Authorization": f"token {world.tokens['alice']}"}
    resp = requests.get(url, headers=headers, timeout=5)
    assert len(resp.json()) == 100
    assert set(resp.links) == {"next", "last", "prev", "first"}
    assert resp.links["last"]["url"].endswith("page=3")
    capped = requests.get(url.replace("per_page=100", "per_page=500"), headers=headers, timeout=5)
    assert len(capped.json()) == 100


def test_injected_500_with_html(world: GitHubWorld) -> None:
    world.forge.admin.set_fault(r"/api/v3/user$", status=500, body="<html><h1>Oops</h1></html>")
    with pytest.raises(GithubException) as caught:
        world.client().get_user().login  # noqa: B018 - lazy load
    assert caught.value.status == 500
    assert "<h1>Oops</h1>" in str(caught.value.data)  # PyGithub keeps a non-JSON body as text
    world.forge.admin.clear_faults()
    assert world.client().get_user().login == "alice"


def test_delay_beyond_client_timeout(world: GitHubWorld) -> None:
    world.forge.admin.set_fault(r"/api/v3/user$", delay_ms=1500)  # PyGithub: whole seconds
    with pytest.raises(requests.exceptions.Timeout):
        client(world.forge, world.tokens["alice"], timeout=1).get_user().login  # noqa: B018


def test_reset_connection(world: GitHubWorld) -> None:
    world.forge.admin.set_fault(r"/repos/", reset=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        world.client().get_repo("acme/app")
    assert world.client().get_repo("acme/app").name == "app"


def test_self_signed_tls(tmp_path: Path) -> None:
    with world_at(tmp_path / "tls", tls_self_signed=True) as world:
        assert world.forge.api_url.startswith("https://")
        with pytest.raises(requests.exceptions.SSLError):
            world.client().get_user().login  # noqa: B018 - lazy load
        assert world.forge.ca_file is not None
        trusted = world.client(verify=str(world.forge.ca_file))
        assert trusted.get_user().login == "alice"
        assert trusted.get_repo("acme/app").clone_url.startswith("https://")
