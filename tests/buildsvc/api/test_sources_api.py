"""``/api/v1/sources``: bind, list, unbind and the pickers, over HTTP against forgesim."""

from __future__ import annotations

import datetime as dt
from typing import Any

from buildsvc.errors import SOURCE_ERROR_RESPONSE_MESSAGE, SOURCE_UNREACHABLE_MESSAGE
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    gitlab_fixture,
    link,
    served_client,
    served_settings,
)
from tests.common.servers import free_port

REDIS_DB = 7


async def test_bind_and_list_show_only_the_last_4(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)
    token = gitlab.forge.admin.create_token("alice", ["api"], expires_at=soon.isoformat())
    body = gitlab.bind_body(token=token)
    response = await client.post("/api/v1/sources", json=body, headers=auth_headers)
    text = await response.text()
    assert response.status == 201, text
    assert token not in text
    bound = await response.json()
    assert bound["token_last4"] == token[-4:]
    assert (bound["provider"], bound["username"], bound["status"]) == ("gitlab", "alice", "ok")
    assert bound["expires_at"] == soon.isoformat()
    assert any("expires" in warning for warning in bound["warnings"])

    listed = await client.get("/api/v1/sources", headers=auth_headers)
    text = await listed.text()
    assert token not in text
    items = (await listed.json())["items"]
    assert [(i["provider"], i["token_last4"]) for i in items] == [("gitlab", token[-4:])]
    assert items[0]["warnings"]


async def test_binding_failures_are_422_with_the_documented_messages(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    bad_token = "t" * 26
    response = await client.post(
        "/api/v1/sources", json=gitlab.bind_body(token=bad_token), headers=auth_headers
    )
    error = (await response.json())["error"]
    assert response.status == 422
    assert (error["code"], error["message"]) == (
        "SOURCE_ERROR_RESPONSE",
        SOURCE_ERROR_RESPONSE_MESSAGE,
    )
    assert error["detail"]
    assert bad_token not in error["detail"]

    closed = f"http://127.0.0.1:{free_port()}"
    response = await client.post(
        "/api/v1/sources", json=gitlab.bind_body(url=closed), headers=auth_headers
    )
    error = (await response.json())["error"]
    assert response.status == 422
    assert (error["code"], error["message"]) == ("SOURCE_UNREACHABLE", SOURCE_UNREACHABLE_MESSAGE)


async def test_invalid_bodies_never_echo_the_token(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    body: dict[str, Any] = gitlab.bind_body(provider="sourceforge")
    response = await client.post("/api/v1/sources", json=body, headers=auth_headers)
    assert response.status == 400
    assert gitlab.token not in await response.text()
    response = await client.post("/api/v1/sources", json=gitlab.bind_body())
    assert response.status == 401


async def test_unbind(client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv) -> None:
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="one")
    response = await client.delete("/api/v1/sources/gitlab", headers=auth_headers)
    assert response.status == 200
    assert await response.json() == {
        "provider": "gitlab",
        "hooks_removed": 1,
        "hooks_not_removed": [],
    }
    assert (await (await client.get("/api/v1/sources", headers=auth_headers)).json())["total"] == 0
    again = await client.delete("/api/v1/sources/gitlab", headers=auth_headers)
    assert (again.status, (await again.json())["error"]["code"]) == (404, "SOURCE_NOT_BOUND")
    # The repository and its history stay.
    repos = await (await client.get("/api/v1/repositories", headers=auth_headers)).json()
    assert [(r["name"], r["hook"]["id"]) for r in repos["items"]] == [("one", None)]


async def test_pickers(client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv) -> None:
    response = await client.get("/api/v1/sources/gitlab/namespaces", headers=auth_headers)
    assert (response.status, (await response.json())["error"]["code"]) == (404, "SOURCE_NOT_BOUND")
    await bind(client, auth_headers, gitlab)
    for number in range(24):
        gitlab.forge.admin.create_repository("acme", f"svc-{number:02d}")

    response = await client.get("/api/v1/sources/gitlab/namespaces", headers=auth_headers)
    assert "acme" in {n["path"] for n in (await response.json())["items"]}

    url = "/api/v1/sources/gitlab/repositories?namespace=acme&per_page=10&page=3"
    response = await client.get(url, headers=auth_headers)
    page = await response.json()
    assert (response.status, page["total"], len(page["items"])) == (200, 25, 5)
    assert 'rel="prev"' in response.headers["Link"]
    assert {"full_path", "clone_url", "default_branch", "private"} <= set(page["items"][0])

    missing = await client.get("/api/v1/sources/gitlab/repositories", headers=auth_headers)
    assert missing.status == 400
    unknown = await client.get("/api/v1/sources/nope/namespaces", headers=auth_headers)
    assert (unknown.status, (await unknown.json())["error"]["code"]) == (404, "UNKNOWN_PROVIDER")
