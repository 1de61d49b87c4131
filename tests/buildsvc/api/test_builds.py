"""GET /api/v1/builds and /api/v1/builds/{id}: shape, filters, order, tenancy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo, add_build, add_repository

T0 = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


async def test_build_detail(
    client: TestClient[Any, Any], account: AccountInfo, auth_headers: dict[str, str]
) -> None:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
        build = await add_build(
            session,
            account.id,
            repository.id,
            status="failed",
            queued_at=T0,
            fetching_at=T0 + dt.timedelta(seconds=2),
            building_at=T0 + dt.timedelta(seconds=5),
            finished_at=T0 + dt.timedelta(seconds=35.5),
            error_code="BUILD_FAILED",
            error_message="The build failed.",
            error_detail="step 3/4 RUN make: exit code 2",
        )

    response = await client.get(f"/api/v1/builds/{build.id}", headers=auth_headers)
    assert response.status == 200
    body = await response.json()
    assert body["id"] == build.id
    assert body["repository_id"] == repository.id
    assert body["status"] == "failed"
    assert body["ref"] == "refs/heads/main"
    assert (body["ref_type"], body["ref_name"]) == ("branch", "main")
    assert body["commit_sha"] == build.commit_sha
    assert body["tags"] == ["127.0.0.1:5000/team/app:latest"]
    assert body["digest"] is None
    assert body["error"] == {
        "code": "BUILD_FAILED",
        "message": "The build failed.",
        "detail": "step 3/4 RUN make: exit code 2",
    }
    assert body["queued_at"] == "2024-03-01T12:00:00Z"
    assert body["finished_at"] == "2024-03-01T12:00:35.500000Z"
    assert body["pushing_at"] is None
    assert body["durations"] == {
        "queued": 2.0,
        "fetching": 3.0,
        "building": 30.5,
        "pushing": None,
        "total": 35.5,
    }


async def test_list_newest_first_and_filters(
    client: TestClient[Any, Any], account: AccountInfo, auth_headers: dict[str, str]
) -> None:
    async with client.app[SESSIONMAKER].begin() as session:
        one = await add_repository(session, account.id)
        two = await add_repository(session, account.id)
        first = await add_build(session, account.id, one.id, status="succeeded")
        second = await add_build(session, account.id, two.id, status="queued")
        third = await add_build(session, account.id, one.id, status="queued")

    async def ids(query: str) -> list[int]:
        response = await client.get(f"/api/v1/builds{query}", headers=auth_headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    assert await ids("") == [third.id, second.id, first.id]
    assert await ids(f"?repository_id={one.id}") == [third.id, first.id]
    assert await ids("?status=queued") == [third.id, second.id]
    assert await ids(f"?status=queued&repository_id={two.id}") == [second.id]
    assert await ids("?status=timed_out") == []


async def test_bad_filters_are_400(
    client: TestClient[Any, Any], auth_headers: dict[str, str]
) -> None:
    for query in ["?status=done", "?repository_id=abc", "?repository_id=0"]:
        response = await client.get(f"/api/v1/builds{query}", headers=auth_headers)
        assert response.status == 400, query
        error = (await response.json())["error"]
        assert error["code"] == "VALIDATION_ERROR"
    response = await client.get("/api/v1/builds?status=done", headers=auth_headers)
    assert "succeeded" in (await response.json())["error"]["detail"]  # lists valid values


async def test_other_accounts_builds_are_invisible(
    client: TestClient[Any, Any],
    make_account: Callable[..., Awaitable[AccountInfo]],
) -> None:
    alice = await make_account("alice")
    bob = await make_account("bob")
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, bob.id)
        bobs = await add_build(session, bob.id, repository.id)
    as_alice = {"Authorization": f"Bearer {alice.token}"}

    response = await client.get(f"/api/v1/builds/{bobs.id}", headers=as_alice)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "NOT_FOUND"
    response = await client.get(f"/api/v1/builds?repository_id={repository.id}", headers=as_alice)
    assert await response.json() == {"items": [], "total": 0}

    as_bob = {"Authorization": f"Bearer {bob.token}"}
    assert (await client.get(f"/api/v1/builds/{bobs.id}", headers=as_bob)).status == 200


async def test_unknown_or_malformed_id_is_404(
    client: TestClient[Any, Any], auth_headers: dict[str, str]
) -> None:
    for build_id in ["999999", "abc", "1e3", "9" * 30]:
        response = await client.get(f"/api/v1/builds/{build_id}", headers=auth_headers)
        assert response.status == 404, build_id
