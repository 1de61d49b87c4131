"""``POST /api/v1/repositories/{id}/builds`` (through forgesim) and ``POST .../cancel``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from arq.constants import default_queue_name
from redis.asyncio import Redis

from buildsvc.builds import logs, outbox
from buildsvc.builds.cancel import CANCEL_CHANNEL
from buildsvc.web.keys import ARQ, SESSIONMAKER
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


async def start(
    client: Client, headers: Headers, repository_id: int, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/api/v1/repositories/{repository_id}/builds", json=body, headers=headers
    )
    return response.status, await response.json()


async def queued_jobs(client: Client) -> set[str]:
    redis = await client.app[ARQ].get()
    assert redis is not None
    return {job.decode() for job in await redis.zrange(default_queue_name, 0, -1)}


@pytest.fixture
async def linked(
    client: Client, auth_headers: Headers, gitlab: GitLabEnv, tmp_path: Path
) -> tuple[dict[str, Any], str]:
    """A repository with auto build off (pushes build nothing) and a pushed main."""
    await bind(client, auth_headers, gitlab)
    repository = await link(client, auth_headers, gitlab, auto_build=False)
    sha = await git_push(gitlab, tmp_path / "work", tag="v1.0")
    return repository, sha


async def test_no_body_builds_the_default_branch(
    client: Client, auth_headers: Headers, linked: tuple[dict[str, Any], str]
) -> None:
    repository, sha = linked

    status, body = await start(client, auth_headers, repository["id"])

    assert status == 201, body
    [build] = body["builds"]
    assert (build["ref"], build["commit_sha"], build["trigger"]) == ("refs/heads/main", sha, "api")
    assert build["status"] == "queued"
    assert build["tags"] == [f"127.0.0.1:5000/team/{repository['name']}:latest"]
    assert outbox.job_id(build["id"]) in await queued_jobs(client)


async def test_a_short_name_is_a_branch_then_a_tag(
    client: Client, auth_headers: Headers, linked: tuple[dict[str, Any], str]
) -> None:
    repository, sha = linked

    status, body = await start(client, auth_headers, repository["id"], ref="v1.0")

    assert status == 201, body
    [build] = body["builds"]
    assert (build["ref"], build["ref_type"], build["commit_sha"]) == ("refs/tags/v1.0", "tag", sha)
    assert build["tags"][0].endswith(":v1.0")


async def test_regex_rules_need_a_matching_ref(
    client: Client, auth_headers: Headers, gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    rules = [{"type": "branch", "pattern": "/release-(?P<v>[0-9]+)/", "tag": "rel-{v}"}]
    repository = await link(client, auth_headers, gitlab, auto_build=False, rules=rules)
    sha = await git_push(gitlab, tmp_path / "work", branch="release-7", tag="v9")
    rule_id = repository["rules"][0]["id"]

    status, body = await start(client, auth_headers, repository["id"], rule_id=rule_id)
    assert (status, body["error"]["code"]) == (400, "REF_REQUIRED")

    status, body = await start(client, auth_headers, repository["id"], rule_id=rule_id, ref="v9")
    assert (status, body["error"]["code"]) == (400, "REF_NOT_MATCHED")
    assert body["error"]["detail"].startswith(f"refs/tags/v9 does not match rule {rule_id}")

    status, body = await start(client, auth_headers, repository["id"], ref="release-8")
    assert (status, body["error"]["code"]) == (404, "REF_NOT_FOUND")

    status, body = await start(
        client, auth_headers, repository["id"], rule_id=rule_id, ref="release-7"
    )
    assert status == 201, body
    [build] = body["builds"]
    assert (build["ref"], build["commit_sha"]) == ("refs/heads/release-7", sha)
    assert build["tags"][0].endswith(":rel-7")


async def test_a_ref_is_resolved_on_the_forge_before_matching_rules(
    client: Client, auth_headers: Headers, gitlab: GitLabEnv, tmp_path: Path
) -> None:
    # Issue 14: "--rule tag 'v*' '{tag}'", then a build of a tag not pushed yet.
    await bind(client, auth_headers, gitlab)
    rules = [{"type": "tag", "pattern": "v*", "tag": "{tag}"}]
    repository = await link(client, auth_headers, gitlab, auto_build=False, rules=rules)
    sha = await git_push(gitlab, tmp_path / "work", tag="v1.0")

    status, body = await start(client, auth_headers, repository["id"], ref="v2.0")
    assert (status, body["error"]["code"]) == (404, "REF_NOT_FOUND")
    assert body["error"]["detail"] == f"no branch or tag v2.0 on {gitlab.project}"

    status, body = await start(client, auth_headers, repository["id"], ref="refs/tags/v2.0")
    assert body["error"]["detail"] == f"no tag v2.0 on {gitlab.project}"

    status, body = await start(client, auth_headers, repository["id"], ref="main")
    assert (status, body["error"]["code"]) == (400, "REF_NOT_MATCHED")
    assert body["error"]["detail"].startswith("refs/heads/main does not match any rule")

    status, body = await start(client, auth_headers, repository["id"], ref="v1.0")
    assert status == 201, body
    [build] = body["builds"]
    assert (build["ref"], build["commit_sha"]) == ("refs/tags/v1.0", sha)
    assert build["tags"][0].endswith(":v1.0")


async def test_unknown_rule_and_foreign_repository_are_404(
    client: Client,
    auth_headers: Headers,
    linked: tuple[dict[str, Any], str],
    make_account: Any,
) -> None:
    repository, _ = linked
    status, body = await start(client, auth_headers, repository["id"], rule_id=999)
    assert (status, body["error"]["code"]) == (404, "RULE_NOT_FOUND")
    other = await make_account()
    status, body = await start(client, {"Authorization": f"Bearer {other.token}"}, repository["id"])
    assert status == 404


async def test_a_new_request_supersedes_the_queued_build_of_the_ref(
    client: Client, auth_headers: Headers, linked: tuple[dict[str, Any], str]
) -> None:
    repository, _ = linked
    _, first = await start(client, auth_headers, repository["id"])
    _, second = await start(client, auth_headers, repository["id"])

    old = await client.get(f"/api/v1/builds/{first['builds'][0]['id']}", headers=auth_headers)
    assert (await old.json())["status"] == "superseded"
    assert second["builds"][0]["status"] == "queued"


async def test_cancel_a_queued_build_drops_its_job(
    client: Client, auth_headers: Headers, linked: tuple[dict[str, Any], str]
) -> None:
    repository, _ = linked
    _, body = await start(client, auth_headers, repository["id"])
    build_id = body["builds"][0]["id"]

    response = await client.post(f"/api/v1/builds/{build_id}/cancel", headers=auth_headers)

    cancelled = await response.json()
    assert response.status == 200
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["code"] == "BUILD_CANCELLED"
    assert cancelled["cancelled_by"] == "alice (token default)"  # the account and its token
    assert cancelled["error"]["detail"] == "cancelled by alice (token default) while queued"
    assert cancelled["finished_at"] is not None
    assert outbox.job_id(build_id) not in await queued_jobs(client)
    again = await client.post(f"/api/v1/builds/{build_id}/cancel", headers=auth_headers)
    assert again.status == 200  # idempotent


async def test_cancel_a_running_build_tells_the_workers(
    client: Client, auth_headers: Headers, account: Any, settings: Any
) -> None:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
        build = await add_build(session, account.id, repository.id, status="building")
    redis = Redis.from_url(settings.redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(CANCEL_CHANNEL, logs.channel(build.id))

    response = await client.post(f"/api/v1/builds/{build.id}/cancel", headers=auth_headers)

    assert (response.status, (await response.json())["status"]) == (200, "cancelled")
    heard: dict[str, str] = {}
    async with asyncio.timeout(5):
        while len(heard) < 2:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message:
                heard[message["channel"].decode()] = message["data"].decode()
    assert heard[CANCEL_CHANNEL] == str(build.id)
    assert logs.decode(heard[logs.channel(build.id)]) == logs.LogEnd("cancelled")
    await pubsub.aclose()
    await redis.aclose()


async def test_cancel_a_finished_or_foreign_build(
    client: Client, auth_headers: Headers, account: Any, make_account: Any
) -> None:
    other = await make_account()
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
        done = await add_build(session, account.id, repository.id, status="succeeded")
        theirs_repo = await add_repository(session, other.id)
        theirs = await add_build(session, other.id, theirs_repo.id)

    response = await client.post(f"/api/v1/builds/{done.id}/cancel", headers=auth_headers)
    assert (response.status, (await response.json())["error"]["code"]) == (409, "BUILD_FINISHED")
    response = await client.post(f"/api/v1/builds/{theirs.id}/cancel", headers=auth_headers)
    assert response.status == 404
