"""Acceptance checks of the service core over HTTP that other modules leave implicit.

- A second account sees nothing of the first one's code source: not in the list, not
  through the pickers, it cannot unbind it, link through it, nor touch its builds.
- Unbinding keeps the repositories' history: builds and deliveries stay readable.
- The forge token shows in no log record (down to DEBUG, python-gitlab, requests and
  urllib3 included) and in no answer, on success and on every kind of refusal.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from buildsvc.api.keys import SESSIONMAKER
from tests.buildsvc.factories import AccountInfo, add_build
from tests.buildsvc.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    git_push,
    gitlab_fixture,
    link,
    served_client,
    served_settings,
)
from tests.buildsvc.intake.test_service import wait_deliveries

REDIS_DB = 8


async def test_another_account_sees_nothing_of_a_binding(
    client: Client,
    auth_headers: dict[str, str],
    account: AccountInfo,
    gitlab: GitLabEnv,
    make_account: Any,
) -> None:
    await bind(client, auth_headers, gitlab)
    repo = await link(client, auth_headers, gitlab, name="web")
    async with client.app[SESSIONMAKER].begin() as session:
        build = await add_build(session, account.id, repo["id"], status="building")
    other = await make_account("mallory")
    theirs = {"Authorization": f"Bearer {other.token}"}

    listed = await (await client.get("/api/v1/sources", headers=theirs)).json()
    assert listed == {"items": [], "total": 0}
    for path in ("namespaces", "repositories?namespace=acme"):
        response = await client.get(f"/api/v1/sources/gitlab/{path}", headers=theirs)
        assert (await response.json())["error"]["code"] == "SOURCE_NOT_BOUND", path
    unbind = await client.delete("/api/v1/sources/gitlab", headers=theirs)
    assert (unbind.status, (await unbind.json())["error"]["code"]) == (404, "SOURCE_NOT_BOUND")
    spec = {
        "namespace": "evil",
        "name": "copy",
        "source": {"provider": "gitlab", "repository": gitlab.project},
    }
    created = await client.post("/api/v1/repositories", json=spec, headers=theirs)
    assert (await created.json())["error"]["code"] == "SOURCE_NOT_BOUND"
    for method, path in [
        ("GET", f"/api/v1/builds/{build.id}"),
        ("GET", f"/api/v1/builds/{build.id}/logs"),
        ("POST", f"/api/v1/builds/{build.id}/cancel"),
        ("POST", f"/api/v1/repositories/{repo['id']}/builds"),
        ("GET", f"/api/v1/repositories/{repo['id']}/deliveries"),
    ]:
        body: dict[str, Any] | None = {} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=theirs)
        assert response.status == 404, (method, path)
    assert (await (await client.get("/api/v1/builds", headers=theirs)).json())["total"] == 0

    # The owner's binding, hook and build are untouched.
    mine = await (await client.get("/api/v1/sources", headers=auth_headers)).json()
    assert mine["total"] == 1
    detail = await (
        await client.get(f"/api/v1/repositories/{repo['id']}", headers=auth_headers)
    ).json()
    assert detail["hook"]["id"] is not None
    status = await (await client.get(f"/api/v1/builds/{build.id}", headers=auth_headers)).json()
    assert status["status"] == "building"


async def test_unbinding_keeps_builds_and_deliveries(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    repo = await link(client, auth_headers, gitlab, name="web")
    await git_push(gitlab, tmp_path / "work")
    [delivery] = await wait_deliveries(client, auth_headers, repo["id"], 1)
    assert delivery["outcome"] == "queued 1 build"

    response = await client.delete("/api/v1/sources/gitlab", headers=auth_headers)
    assert (response.status, (await response.json())["hooks_removed"]) == (200, 1)

    url = f"/api/v1/repositories/{repo['id']}/deliveries"
    after = await (await client.get(url, headers=auth_headers)).json()
    assert [d["id"] for d in after["items"]] == [delivery["id"]]
    found = await client.get(f"/api/v1/builds?repository_id={repo['id']}", headers=auth_headers)
    assert [b["id"] for b in (await found.json())["items"]] == delivery["build_ids"]


async def test_the_forge_token_is_in_no_log_and_no_answer(
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, third-party ones included
    answers: list[str] = []

    async def call(method: str, path: str, body: Any = None) -> None:
        response = await client.request(method, path, json=body, headers=auth_headers)
        answers.append(f"{response.status} {dict(response.headers)} {await response.text()}")

    expired = gitlab.forge.admin.create_token("alice", ["api"], expires_at="2020-01-01")
    narrow = gitlab.forge.admin.create_token("alice", ["read_user"])
    refusals = [
        gitlab.bind_body(username="bob"),  # username mismatch
        gitlab.bind_body(token=expired),
        gitlab.bind_body(token=narrow),
        gitlab.bind_body(url=gitlab.forge.url + "/acme/app.git"),
        gitlab.bind_body(url="http://127.0.0.1:1"),  # connection refused
        gitlab.bind_body(ca_cert="not a certificate"),
        gitlab.bind_body(provider="nope"),
    ]
    for body in refusals:
        await call("POST", "/api/v1/sources", body)
    await call("POST", "/api/v1/sources", gitlab.bind_body())
    await call("GET", "/api/v1/sources")
    await call("GET", "/api/v1/sources/gitlab/namespaces")
    await call("GET", "/api/v1/sources/gitlab/repositories?namespace=acme")
    spec = {
        "namespace": "t",
        "name": "web",
        "source": {"provider": "gitlab", "repository": gitlab.project},
    }
    await call("POST", "/api/v1/repositories", spec)
    await call("GET", "/api/v1/repositories")
    await call("DELETE", "/api/v1/sources/gitlab")

    assert len(answers) == len(refusals) + 7
    assert all(answer.startswith(("4", "2")) for answer in answers), answers
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for token in (gitlab.token, expired, narrow):
        assert token not in caplog.text
        assert [a for a in answers if token in a] == []
