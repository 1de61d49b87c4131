"""The console's replication page over plain HTTP: add a rule (the password never comes
back), a refused form shown with its code, delete; a build's page shows its copies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from buildsvc.replication import service
from buildsvc.replication.plan import plan_push
from buildsvc.web.keys import SESSIONMAKER
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo, add_build, add_repository
from tests.common.registries import Registry, running_registry

Client = TestClient[Any, Any]


@pytest.fixture
def region() -> Iterator[Registry]:
    yield from running_registry(tls=True)


async def test_a_rule_is_added_shown_and_deleted_from_the_console(
    client: Client, account: AccountInfo, region: Registry
) -> None:
    async with client.app[SESSIONMAKER].begin() as session:
        repo_id = (await add_repository(session, account.id, namespace="acme", name="app")).id
    csrf = await sign_in(client, account.token)
    page = f"/console/repositories/{repo_id}/replication"
    form = {
        "csrf_token": csrf,
        "destination_url": region.url,
        "username": region.username,
        "password": region.password,
        "ca_cert": region.ca_pem or "",
        "destination_namespace": "dr",
        "tag_filter": "/v.+/",
        "trigger": "push",
        "scope": "repository",
    }

    added = await client.post(page, data=form, allow_redirects=False)
    assert added.status == 303, await added.text()
    shown = await (await client.get(page)).text()
    assert region.url in shown
    assert "/v.+/" in shown
    assert region.password not in shown

    refused = await client.post(page, data={**form, "tag_filter": "/v(/"})
    text = await refused.text()
    assert refused.status == 400
    assert "INVALID_REPLICATION_RULE" in text
    assert region.password not in text

    rules = await service.list_rules(client.app[SESSIONMAKER], account.id, repo_id)
    gone = await client.post(
        f"{page}/{rules[0].id}/delete", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert gone.status == 303
    assert "No replication rule yet." in await (await client.get(page)).text()


async def test_a_builds_page_lists_where_its_digest_goes(
    client: Client, account: AccountInfo, region: Registry
) -> None:
    digest = "sha256:" + "ab" * 32
    async with client.app[SESSIONMAKER].begin() as session:
        repo = await add_repository(session, account.id, namespace="acme", name="app")
        build = await add_build(session, account.id, repo.id, digest=digest)
        repo_id, build_id = repo.id, build.id
    csrf = await sign_in(client, account.token)
    added = await client.post(
        f"/console/repositories/{repo_id}/replication",
        data={"csrf_token": csrf, "destination_url": region.url, "ca_cert": region.ca_pem or ""},
        allow_redirects=False,
    )
    assert added.status == 303
    await plan_push(client.app[SESSIONMAKER], repo_id, ["latest"], digest, build_id)

    text = await (await client.get(f"/console/builds/{build_id}")).text()

    assert "Replicated to" in text
    assert f"{region.host}/app:latest" in text
