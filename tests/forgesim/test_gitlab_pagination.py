"""GitLab offset pagination, as python-gitlab walks it: 1,000 projects in one group."""

from __future__ import annotations

import time
from collections.abc import Iterator

import gitlab
import pytest
import requests

import forgesim
from forgesim import Forge
from tests.forgesim.conftest import World, seed

PROJECTS = 1000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Forge, World, float]]:
    """One forge for the module: alice developer of group ``big`` with 1,000 projects."""
    with forgesim.running("gitlab", tmp_path_factory.mktemp("forge")) as forge:
        world = seed(forge)
        started = time.monotonic()
        forge.admin.create_namespace("big", members={"alice": "developer"})
        for index in range(PROJECTS):
            forge.admin.create_repository("big", f"svc-{index:04d}")
        yield forge, world, time.monotonic() - started


@pytest.fixture
def forge(big: tuple[Forge, World, float]) -> Forge:
    return big[0]


@pytest.fixture
def world(big: tuple[Forge, World, float]) -> World:
    return big[1]


@pytest.fixture
def big_group(big: tuple[Forge, World, float]) -> float:
    return big[2]


def test_creating_a_thousand_projects_is_fast(big_group: float) -> None:
    assert big_group < 10


def test_iterator_lists_every_project(gl: gitlab.Gitlab, big_group: float) -> None:
    group = gl.groups.get("big")
    listing = group.projects.list(iterator=True, per_page=100)
    assert listing.total == PROJECTS
    assert listing.total_pages == 10
    paths = [p.path for p in listing]
    assert len(paths) == PROJECTS
    assert set(paths) == {f"svc-{i:04d}" for i in range(PROJECTS)}


def test_get_all_lists_every_project(gl: gitlab.Gitlab, big_group: float) -> None:
    projects = gl.projects.list(membership=True, get_all=True, per_page=100)
    assert len({p.id for p in projects}) == PROJECTS + 1  # and acme/app


def test_headers_and_links(forge: Forge, world: World, big_group: float) -> None:
    headers = {"PRIVATE-TOKEN": world.tokens["alice"]}
    url = f"{forge.api_url}/groups/big/projects?per_page=30&page=2"
    resp = requests.get(url, headers=headers, timeout=5)
    assert len(resp.json()) == 30
    h = resp.headers
    assert (h["X-Page"], h["X-Per-Page"], h["X-Total"], h["X-Total-Pages"]) == (
        "2",
        "30",
        "1000",
        "34",
    )
    assert (h["X-Next-Page"], h["X-Prev-Page"]) == ("3", "1")
    assert set(resp.links) == {"next", "prev", "first", "last"}
    assert "page=3" in resp.links["next"]["url"]
    assert resp.links["next"]["url"].startswith(forge.api_url)
    last = requests.get(resp.links["last"]["url"], headers=headers, timeout=5)
    assert len(last.json()) == 1000 - 33 * 30
    assert last.headers["X-Next-Page"] == ""
    assert "next" not in last.links


def test_per_page_is_capped_at_100(forge: Forge, world: World, big_group: float) -> None:
    url = f"{forge.api_url}/groups/big/projects?per_page=500"
    resp = requests.get(url, headers={"PRIVATE-TOKEN": world.tokens["alice"]}, timeout=5)
    assert (len(resp.json()), resp.headers["X-Per-Page"]) == (100, "100")
