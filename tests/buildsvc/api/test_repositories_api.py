"""``/api/v1/repositories``: create, read, change, delete, deliveries, over HTTP."""

from __future__ import annotations

from typing import Any

import gitlab as python_gitlab

from buildsvc.errors import SOURCE_ERROR_RESPONSE_MESSAGE
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

REDIS_DB = 8


def hooks(gitlab: GitLabEnv, project: str) -> list[Any]:
    api = python_gitlab.Gitlab(gitlab.forge.url, private_token=gitlab.token)
    return list(api.projects.get(project).hooks.list(get_all=True))


async def test_create_and_read(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    await bind(client, auth_headers, gitlab)
    rules = [
        {
            "type": "tag",
            "pattern": r"/v(?P<version>\d+\.\d+)/",
            "tag": "{version},latest",
            "dockerfile": "./docker/Dockerfile",
            "context": "docker",
            "build_args": {"MODE": "prod", "NPM_TOKEN": "very-secret-value"},
            "secret_build_args": ["NPM_TOKEN"],
            "include_paths": ["docker/"],
        }
    ]
    created = await link(client, auth_headers, gitlab, name="web", rules=rules)
    [hook] = hooks(gitlab, gitlab.project)
    assert (created["hook"]["id"], created["hook"]["url"]) == (str(hook.id), hook.url)
    assert created["image"] == "127.0.0.1:5000/team/web"
    assert created["source"]["repository"] == gitlab.project
    [rule] = created["rules"]
    assert rule["build_args"] == {"MODE": "prod", "NPM_TOKEN": "****"}
    assert (rule["dockerfile"], rule["context"]) == ("docker/Dockerfile", "docker")

    response = await client.get(f"/api/v1/repositories/{created['id']}", headers=auth_headers)
    text = await response.text()
    assert response.status == 200
    assert "very-secret-value" not in text
    read = await response.json()
    # GET of one repository adds the hook as the forge has it and the last delivery.
    assert (read["hook"]["exists"], read["hook"]["enabled"], read["last_delivery"]) == (
        True,
        True,
        None,
    )
    unchecked = {"exists": None, "enabled": None, "checked_at": None, "error": None}
    assert {**read, "hook": {**read["hook"], **unchecked}} == created


async def test_hook_refused_shows_the_documented_message(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    gitlab.forge.admin.create_namespace("other", members={"alice": "developer"})
    gitlab.forge.admin.create_repository("other", "lib")
    await bind(client, auth_headers, gitlab)
    spec = {
        "namespace": "team",
        "name": "lib",
        "source": {"provider": "gitlab", "repository": "other/lib"},
    }
    response = await client.post("/api/v1/repositories", json=spec, headers=auth_headers)
    error = (await response.json())["error"]
    assert response.status == 422
    assert (error["code"], error["message"]) == (
        "SOURCE_ERROR_RESPONSE",
        SOURCE_ERROR_RESPONSE_MESSAGE,
    )
    assert "Settings" in error["detail"]
    listed = await (await client.get("/api/v1/repositories", headers=auth_headers)).json()
    assert listed == {"items": [], "total": 0}


async def test_invalid_input(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    await bind(client, auth_headers, gitlab)
    cases = [
        ({"name": "Web"}, "INVALID_NAME"),
        ({"rules": [{"type": "branch", "pattern": "main", "dockerfile": "../x"}]}, "INVALID_RULE"),
        ({"rules": [{"type": "branch", "pattern": "/(a|aa)+b/"}]}, "INVALID_RULE"),
        ({"rules": [{"type": "commit", "pattern": "main"}]}, "VALIDATION_ERROR"),
        ({"source": {"provider": "gitlab", "repository": "acme/missing"}}, "SOURCE_ERROR_RESPONSE"),
    ]
    for change, code in cases:
        spec: dict[str, Any] = {
            "namespace": "team",
            "name": "web",
            "source": {"provider": "gitlab", "repository": gitlab.project},
        }
        spec.update(change)
        response = await client.post("/api/v1/repositories", json=spec, headers=auth_headers)
        assert (await response.json())["error"]["code"] == code, change
    assert hooks(gitlab, gitlab.project) == []


async def test_list_patch_delete(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    await bind(client, auth_headers, gitlab)
    made = [await link(client, auth_headers, gitlab, name=f"app-{n}") for n in range(3)]

    response = await client.get("/api/v1/repositories?per_page=2", headers=auth_headers)
    page = await response.json()
    assert (page["total"], [r["name"] for r in page["items"]]) == (3, ["app-0", "app-1"])
    assert 'rel="next"' in response.headers["Link"]

    url = f"/api/v1/repositories/{made[0]['id']}"
    patch = {"auto_build": False, "rules": [{"type": "branch", "pattern": "/release-.+/"}]}
    response = await client.patch(url, json=patch, headers=auth_headers)
    changed = await response.json()
    assert response.status == 200
    assert changed["auto_build"] is False
    assert [(r["pattern"], r["tag"]) for r in changed["rules"]] == [("/release-.+/", "{branch}")]
    bad = await client.patch(
        url,
        json={"rules": [{"type": "tag", "pattern": "x", "tag": "{branch}"}]},
        headers=auth_headers,
    )
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "INVALID_RULE")

    response = await client.delete(url, headers=auth_headers)
    assert await response.json() == {
        "id": made[0]["id"],
        "deleted": True,
        "hook_removed": True,
        "detail": None,
    }
    assert (await client.get(url, headers=auth_headers)).status == 404
    assert len(hooks(gitlab, gitlab.project)) == 2


async def test_accounts_are_isolated(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, make_account: Any
) -> None:
    await bind(client, auth_headers, gitlab)
    repo = await link(client, auth_headers, gitlab, name="web")
    other = await make_account("mallory")
    theirs = {"Authorization": f"Bearer {other.token}"}
    url = f"/api/v1/repositories/{repo['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("PATCH", url, {"auto_build": False}),
        ("DELETE", url, None),
        ("GET", f"{url}/deliveries", None),
    ]:
        response = await client.request(method, path, json=body, headers=theirs)
        assert response.status == 404, (method, path)
    listed = await (await client.get("/api/v1/repositories", headers=theirs)).json()
    assert listed["total"] == 0
    assert (await client.get(url, headers=auth_headers)).status == 200


async def test_doubtful_rules_are_saved_with_warnings(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    # Issue 14: "/v*/" reads "zero or more v" and no tag v1.0 would ever build.
    await bind(client, auth_headers, gitlab)
    rules = [{"type": "branch", "pattern": "main"}, {"type": "tag", "pattern": "/v*/"}]
    made = await link(client, auth_headers, gitlab, rules=rules)
    [warning] = made["warnings"]
    assert warning.startswith("rules[1]: the tag pattern '/v*/' matches none of the sample")

    path = f"/api/v1/repositories/{made['id']}"
    glob = {"rules": [{"type": "branch", "pattern": "main"}, {"type": "tag", "pattern": "v*"}]}
    response = await client.patch(path, json=glob, headers=auth_headers)
    assert (await response.json())["warnings"] == []
