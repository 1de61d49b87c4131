"""Pagination across pages (``start``/``limit``), injected faults and self-signed TLS,
seen through atlassian-python-api's ``Bitbucket``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from requests import HTTPError

from tests.forgesim.bitbucket_server_world import ServerWorld, world_at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ServerWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def test_pagination_follows_next_page_start(world: ServerWorld) -> None:
    for index in range(250):
        world.forge.admin.create_repository("PRJ", f"svc-{index:03d}", private=index % 2 == 0)
    repos = list(world.client().repo_list("PRJ"))
    assert len(repos) == len({r["slug"] for r in repos}) == 252
    assert len(list(world.client("dave").repo_list("PRJ", limit=100))) == 126
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    page = requests.get(
        world.forge.api_url + "/projects/PRJ/repos?start=100&limit=100", headers=headers, timeout=5
    ).json()
    assert (page["start"], page["size"], page["isLastPage"], page["nextPageStart"]) == (
        100,
        100,
        False,
        200,
    )
    last = requests.get(
        world.forge.api_url + "/projects/PRJ/repos?start=200&limit=100", headers=headers, timeout=5
    ).json()
    assert (last["size"], last["isLastPage"], "nextPageStart" in last) == (52, True, False)


def test_injected_500_with_html(world: ServerWorld) -> None:
    world.forge.admin.set_fault(r"/repos/app$", status=500, body="<html><h1>Oops</h1></html>")
    with pytest.raises(HTTPError) as caught:
        world.client().get_repo("PRJ", "app")
    assert caught.value.response.status_code == 500
    assert caught.value.response.headers["Content-Type"].startswith("text/html")
    assert caught.value.response.text == "<html><h1>Oops</h1></html>"
    world.forge.admin.clear_faults()
    assert world.client().get_repo("PRJ", "app")["slug"] == "app"


def test_reset_connection(world: ServerWorld) -> None:
    world.forge.admin.set_fault(r"/repos/app$", reset=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        world.client().get_repo("PRJ", "app")
    assert world.client().get_repo("PRJ", "app")["slug"] == "app"


def test_delay_beyond_client_timeout(world: ServerWorld) -> None:
    world.forge.admin.set_fault(r"/projects$", delay_ms=1500)
    with pytest.raises(requests.exceptions.Timeout):
        list(world.client(timeout=1).project_list())  # whole seconds


def test_self_signed_tls(tmp_path: Path) -> None:
    with world_at(tmp_path / "tls", tls_self_signed=True) as world:
        with pytest.raises(requests.exceptions.SSLError):
            world.client().get_repo("PRJ", "app")
        trusted = world.client(verify_ssl=str(world.forge.ca_file))
        assert trusted.get_repo("PRJ", "app")["slug"] == "app"
