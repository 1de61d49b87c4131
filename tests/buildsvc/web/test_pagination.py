"""?page=&per_page= validation and the Link header."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo, add_build, add_repository


def links(header: str) -> dict[str, URL]:
    return {rel: URL(url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


@pytest.fixture
async def repository_with_builds(client: TestClient[Any, Any], account: AccountInfo) -> int:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
        for _ in range(45):
            await add_build(session, account.id, repository.id)
    return repository.id


async def test_link_header_first_prev_next_last(
    client: TestClient[Any, Any], auth_headers: dict[str, str], repository_with_builds: int
) -> None:
    response = await client.get(
        f"/api/v1/builds?page=2&per_page=10&repository_id={repository_with_builds}",
        headers=auth_headers,
    )
    assert response.status == 200
    body = await response.json()
    assert body["total"] == 45
    assert len(body["items"]) == 10
    rels = links(response.headers["Link"])
    assert {rel: url.query["page"] for rel, url in rels.items()} == {
        "first": "1",
        "prev": "1",
        "next": "3",
        "last": "5",
    }
    for url in rels.values():  # filters and page size carry over
        assert url.query["per_page"] == "10"
        assert url.query["repository_id"] == str(repository_with_builds)
        assert url.path == "/api/v1/builds"


async def test_defaults_and_edges(
    client: TestClient[Any, Any], auth_headers: dict[str, str], repository_with_builds: int
) -> None:
    response = await client.get("/api/v1/builds", headers=auth_headers)
    body = await response.json()
    assert len(body["items"]) == 20  # default per_page
    rels = links(response.headers["Link"])
    assert set(rels) == {"first", "next", "last"}
    assert rels["last"].query["page"] == "3"

    response = await client.get("/api/v1/builds?page=3", headers=auth_headers)
    assert len((await response.json())["items"]) == 5
    assert set(links(response.headers["Link"])) == {"first", "prev", "last"}

    response = await client.get("/api/v1/builds?page=9&per_page=100", headers=auth_headers)
    body = await response.json()
    assert body == {"items": [], "total": 45}
    assert links(response.headers["Link"])["prev"].query["page"] == "1"


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=101", "per_page=1.5"]
)
async def test_bad_values_are_400(
    client: TestClient[Any, Any], auth_headers: dict[str, str], query: str
) -> None:
    response = await client.get(f"/api/v1/builds?{query}", headers=auth_headers)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert query.split("=")[0] in error["detail"]
