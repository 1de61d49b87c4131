"""``POST /api/v1/builds/{id}/rerun``: the same commit of the same ref, built again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import add_build, add_repository
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
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

REDIS_DB = 14
Headers = dict[str, str]


async def _post(client: Client, headers: Headers, path: str, **body: Any) -> tuple[int, Any]:
    response = await client.post(path, json=body, headers=headers)
    return response.status, await response.json()


async def test_rerun_builds_the_old_commit_although_the_branch_moved_on(
    client: Client, auth_headers: Headers, gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    repository = await link(client, auth_headers, gitlab, auto_build=False)
    first_sha = await git_push(gitlab, tmp_path / "work")
    status, started = await _post(
        client, auth_headers, f"/api/v1/repositories/{repository['id']}/builds"
    )
    assert status == 201, started
    [old] = started["builds"]
    await git_push(gitlab, tmp_path / "work")  # main now names a newer commit

    status, body = await _post(client, auth_headers, f"/api/v1/builds/{old['id']}/rerun")

    assert status == 201, body
    [new] = body["builds"]
    assert new["id"] != old["id"]
    assert new["commit_sha"] == first_sha
    assert (new["ref"], new["rule_id"]) == (old["ref"], old["rule_id"])
    assert (new["status"], new["trigger"]) == ("queued", "api")
    superseded = await client.get(f"/api/v1/builds/{old['id']}", headers=auth_headers)
    assert (await superseded.json())["status"] == "superseded"  # as for any newer request


async def test_rerun_after_the_rules_were_replaced_uses_the_rules_matching_the_ref(
    client: Client, auth_headers: Headers, gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    repository = await link(client, auth_headers, gitlab, auto_build=False)
    await git_push(gitlab, tmp_path / "work")
    _, started = await _post(
        client, auth_headers, f"/api/v1/repositories/{repository['id']}/builds"
    )
    rules = [{"type": "branch", "pattern": "main", "tag": "edge"}]
    patched = await client.patch(
        f"/api/v1/repositories/{repository['id']}", json={"rules": rules}, headers=auth_headers
    )
    assert patched.status == 200, await patched.text()

    status, body = await _post(
        client, auth_headers, f"/api/v1/builds/{started['builds'][0]['id']}/rerun"
    )

    assert status == 201, body
    assert body["builds"][0]["tags"][0].endswith(":edge")


async def test_rerun_of_a_foreign_or_unmatched_build_is_refused(
    client: Client, auth_headers: Headers, account: Any, make_account: Any
) -> None:
    other = await make_account()
    async with client.app[SESSIONMAKER].begin() as session:
        mine = await add_repository(session, account.id)
        orphan = await add_build(session, account.id, mine.id, ref="refs/heads/nowhere")
        theirs_repo = await add_repository(session, other.id)
        theirs = await add_build(session, other.id, theirs_repo.id)

    status, body = await _post(client, auth_headers, f"/api/v1/builds/{theirs.id}/rerun")
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
    status, body = await _post(client, auth_headers, f"/api/v1/builds/{orphan.id}/rerun")
    assert (status, body["error"]["code"]) == (400, "REF_NOT_MATCHED")
