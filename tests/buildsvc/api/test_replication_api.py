"""``/api/v1/repositories/{id}/replication-rules`` and ``/replications`` over HTTP, with
real registries and a real arq worker for a manual run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from buildsvc.config import Settings
from buildsvc.store.models import ReplicationRule
from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import AccountInfo, add_build, add_repository
from tests.common.registries import (
    Registry,
    layers,
    put_image,
    running_registry,
    token_source,
)
from tests.common.replication_world import replication_settings, replication_worker

Client = TestClient[Any, Any]


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Registry]:
    yield from token_source(tmp_path / "source")


@pytest.fixture
def region() -> Iterator[Registry]:
    yield from running_registry(tls=True)


@pytest.fixture
def settings(settings: Settings, source: Registry) -> Settings:
    return replication_settings(settings, source)


async def repository(client: Client, account_id: int, namespace: str = "acme") -> int:
    async with client.app[SESSIONMAKER].begin() as session:
        repo = await add_repository(session, account_id, namespace=namespace, name="app")
        return int(repo.id)


def rule_body(region: Registry, **fields: Any) -> dict[str, Any]:
    body = {
        "destination_url": region.url,
        "username": region.username,
        "password": region.password,
        "ca_cert": region.ca_pem,
    }
    return {**body, **fields}


async def test_rules_are_created_listed_changed_and_deleted(
    client: Client, account: AccountInfo, auth_headers: dict[str, str], region: Registry
) -> None:
    repo_id = await repository(client, account.id)
    rules = f"/api/v1/repositories/{repo_id}/replication-rules"

    made = await client.post(rules, json=rule_body(region, tag_filter="main"), headers=auth_headers)
    assert made.status == 201, await made.text()
    rule = await made.json()
    assert rule["password_set"] is True
    assert region.password not in await made.text()
    assert (rule["tag_filter"], rule["trigger"], rule["scope"]) == ("main", "push", "repository")
    async with client.app[SESSIONMAKER]() as session:
        stored = await session.scalar(select(ReplicationRule.password_encrypted))
    assert stored is not None
    assert region.password not in stored

    listed = await (await client.get(rules, headers=auth_headers)).json()
    assert (listed["total"], listed["items"][0]["id"]) == (1, rule["id"])

    patched = await client.patch(
        f"{rules}/{rule['id']}",
        json={"tag_filter": "/v\\d+/", "password": None, "trigger": "manual"},
        headers=auth_headers,
    )
    assert patched.status == 200, await patched.text()
    changed = await patched.json()
    assert (changed["tag_filter"], changed["password_set"], changed["trigger"]) == (
        "/v\\d+/",
        False,
        "manual",
    )

    gone = await client.delete(f"{rules}/{rule['id']}", headers=auth_headers)
    assert gone.status == 200
    assert await gone.json() == {"id": rule["id"], "deleted": True}
    again = await client.delete(f"{rules}/{rule['id']}", headers=auth_headers)
    assert (await again.json())["error"]["code"] == "REPLICATION_RULE_NOT_FOUND"


async def test_a_namespace_rule_covers_every_repository_of_the_namespace(
    client: Client, account: AccountInfo, auth_headers: dict[str, str], region: Registry
) -> None:
    first = await repository(client, account.id, "shared")
    async with client.app[SESSIONMAKER].begin() as session:
        other = (await add_repository(session, account.id, namespace="shared")).id
        elsewhere = (await add_repository(session, account.id, namespace="alone")).id
    body = rule_body(region, scope="namespace")
    made = await client.post(
        f"/api/v1/repositories/{first}/replication-rules", json=body, headers=auth_headers
    )
    assert made.status == 201

    for repo_id, count in ((other, 1), (elsewhere, 0)):
        listed = await client.get(
            f"/api/v1/repositories/{repo_id}/replication-rules", headers=auth_headers
        )
        assert (await listed.json())["total"] == count


async def wait_until_done(
    client: Client, repo_id: int, headers: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The repository's replications by tag, once none is pending or copying."""
    deadline = time.monotonic() + 60
    while True:
        answer = await client.get(f"/api/v1/repositories/{repo_id}/replications", headers=headers)
        items = (await answer.json())["items"]
        if items and all(item["status"] in ("done", "failed") for item in items):
            return {item["tag"]: item for item in items}
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"tag_filter": "/v(/"}, "INVALID_REPLICATION_RULE"),
        ({"destination_url": "https://127.0.0.1:1/v2/"}, "INVALID_REPLICATION_RULE"),
        ({"destination_url": "ftp://127.0.0.1"}, "INVALID_REPLICATION_RULE"),
        ({"name_template": "{branch}"}, "INVALID_REPLICATION_RULE"),
        ({"destination_namespace": "Upper"}, "INVALID_REPLICATION_RULE"),
        ({"ca_cert": "not a certificate"}, "INVALID_REPLICATION_RULE"),
        ({"destination_url": "http://169.254.169.254"}, "REPLICATION_URL_NOT_ALLOWED"),
    ],
)
async def test_invalid_rules_are_refused_with_a_code(
    client: Client,
    account: AccountInfo,
    auth_headers: dict[str, str],
    region: Registry,
    fields: dict[str, Any],
    code: str,
) -> None:
    repo_id = await repository(client, account.id)
    answer = await client.post(
        f"/api/v1/repositories/{repo_id}/replication-rules",
        json=rule_body(region, **fields),
        headers=auth_headers,
    )
    assert answer.status == 400
    assert (await answer.json())["error"]["code"] == code


async def test_another_accounts_repository_is_not_found(
    client: Client, make_account: Any, auth_headers: dict[str, str], region: Registry
) -> None:
    other = await make_account()
    repo_id = await repository(client, other.id)
    answer = await client.post(
        f"/api/v1/repositories/{repo_id}/replication-rules",
        json=rule_body(region),
        headers=auth_headers,
    )
    assert answer.status == 404


async def test_a_manual_run_copies_existing_tags_and_the_build_shows_where(
    client: Client,
    account: AccountInfo,
    auth_headers: dict[str, str],
    settings: Settings,
    source: Registry,
    region: Registry,
) -> None:
    repo_id = await repository(client, account.id)
    images = {tag: put_image(source, "acme/app", tag, layers(2, 1024)) for tag in ("v1", "v2")}
    put_image(source, "acme/app", "dev", layers(1, 1024))
    async with client.app[SESSIONMAKER].begin() as session:
        build = await add_build(session, account.id, repo_id, digest=images["v2"].digest)
        build_id = build.id
    body = rule_body(region, trigger="manual", tag_filter="/v\\d+/", destination_namespace="dr")
    rule = await (
        await client.post(
            f"/api/v1/repositories/{repo_id}/replication-rules", json=body, headers=auth_headers
        )
    ).json()

    async with replication_worker(settings, client.app[SESSIONMAKER]):
        run = await client.post(
            f"/api/v1/repositories/{repo_id}/replication-rules/{rule['id']}/run",
            headers=auth_headers,
        )
        assert run.status == 202, await run.text()
        assert await run.json() == {"planned": 2, "queued": 2}
        by_tag = await wait_until_done(client, repo_id, auth_headers)

    assert set(by_tag) == {"v1", "v2"}
    for tag, image in images.items():
        assert region.manifest("dr/app", tag)[2] == image.digest
    assert by_tag["v1"]["destination"] == f"{region.host}/dr/app:v1"
    assert by_tag["v1"]["digest"] == images["v1"].digest
    assert by_tag["v1"]["status"] == "done"
    shown = await (await client.get(f"/api/v1/builds/{build_id}", headers=auth_headers)).json()
    assert [(r["destination"], r["status"]) for r in shown["replications"]] == [
        (f"{region.host}/dr/app:v2", by_tag["v2"]["status"])
    ]
