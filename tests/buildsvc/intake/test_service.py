"""Webhook intake end to end: real git pushes to forgesim GitLab, its real webhooks, our
queued builds, and their arq jobs in a real Redis."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis.asyncio
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from sqlalchemy import select

from buildsvc.builds.outbox import job_id
from buildsvc.store.models import Build
from buildsvc.web.keys import SESSIONMAKER, SETTINGS
from tests.common.deliveries import wait_deliveries
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

REDIS_DB = 5


async def builds(client: Client) -> list[Build]:
    async with client.app[SESSIONMAKER]() as session:
        return list((await session.execute(select(Build).order_by(Build.id))).scalars())


async def arq_jobs(client: Client) -> set[str]:
    connection = redis.asyncio.Redis.from_url(client.app[SETTINGS].redis_url)
    try:
        keys = await connection.keys("arq:job:*")
    finally:
        await connection.aclose()
    return {key.decode().removeprefix("arq:job:") for key in keys}


async def test_push_queues_builds_with_arq_jobs(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    rules = [
        {"type": "branch", "pattern": "main", "tag": "latest"},
        {"type": "branch", "pattern": "/ma(?P<rest>.*)/", "tag": "{branch}-{short_sha}"},
    ]
    repo = await link(client, auth_headers, gitlab, name="web", rules=rules)

    sha = await git_push(gitlab, tmp_path / "work")

    # The forge records a delivery once our answer is in: everything is done by then.
    [sent] = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    [delivery] = await wait_deliveries(client, auth_headers, repo["id"], 1)
    assert delivery["outcome"] == "queued 2 builds"
    assert (delivery["event"], delivery["ref"], delivery["commit_sha"]) == (
        "push",
        "refs/heads/main",
        sha,
    )
    first, second = await builds(client)
    assert delivery["build_ids"] == [first.id, second.id]
    assert first.tags == ["127.0.0.1:5000/team/web:latest"]
    assert second.tags == [f"127.0.0.1:5000/team/web:main-{sha[:7]}"]
    assert (first.status, first.trigger, first.commit_sha, first.enqueued) == (
        "queued",
        "push",
        sha,
        True,
    )
    assert (first.dockerfile, first.context, first.commit_message) == (
        "Dockerfile",
        ".",
        "Change things\n",
    )
    assert await arq_jobs(client) == {job_id(first.id), job_id(second.id)}
    # arq itself reads them as queued run_build jobs.
    connection = ArqRedis.from_url(client.app[SETTINGS].redis_url)
    try:
        assert await Job(job_id(first.id), connection).status() == JobStatus.queued
        queued = sorted((j.function, j.args) for j in await connection.queued_jobs())
        assert queued == [("run_build", (first.id,)), ("run_build", (second.id,))]
    finally:
        await connection.aclose()
    # The forge saw our answer: 202 with the build ids, well within its timeout.
    assert sent["status"] == 202
    assert json.loads(sent["response_body"])["build_ids"] == [first.id, second.id]
    assert sent["duration_ms"] < 1000


async def test_outcomes_of_real_pushes(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    repo = await link(client, auth_headers, gitlab, name="web")
    work = tmp_path / "work"
    url = f"/api/v1/repositories/{repo['id']}"

    await git_push(gitlab, work, tag="v1.0")  # main and the tag: two deliveries
    await git_push(gitlab, work, branch="dev")
    await git_push(gitlab, work, branch="main", message="Docs only [skip ci]")
    await git_push(gitlab, work, branch="dev", delete=True)
    await wait_deliveries(client, auth_headers, repo["id"], 5)
    response = await client.patch(url, json={"auto_build": False}, headers=auth_headers)
    assert response.status == 200
    await git_push(gitlab, work, branch="main")

    found = await wait_deliveries(client, auth_headers, repo["id"], 6)
    outcomes = sorted((d["ref"], d["outcome"]) for d in found)
    assert outcomes == sorted(
        [
            ("refs/heads/main", "queued 1 build"),
            ("refs/tags/v1.0", "queued 1 build"),
            ("refs/heads/dev", "no rule matched refs/heads/dev"),
            ("refs/heads/main", "skipped: [skip ci]"),
            ("refs/heads/dev", "branch deleted"),
            ("refs/heads/main", "auto build off"),
        ]
    )
    tags = sorted(tag for build in await builds(client) for tag in build.tags)
    assert tags == ["127.0.0.1:5000/team/web:latest", "127.0.0.1:5000/team/web:v1.0"]


async def test_a_newer_push_supersedes_queued_builds(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    repo = await link(client, auth_headers, gitlab, name="web")
    work = tmp_path / "work"
    await git_push(gitlab, work, tag="v1")
    await wait_deliveries(client, auth_headers, repo["id"], 2)
    await git_push(gitlab, work)
    await wait_deliveries(client, auth_headers, repo["id"], 3)
    await git_push(gitlab, work)
    await wait_deliveries(client, auth_headers, repo["id"], 4)

    by_ref: dict[str, list[str]] = {}
    for build in await builds(client):
        by_ref.setdefault(build.ref, []).append(build.status)
    assert by_ref == {
        "refs/heads/main": ["superseded", "superseded", "queued"],
        "refs/tags/v1": ["queued"],  # another ref: untouched
    }


async def test_a_glob_tag_rule_builds_the_pushed_tag(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    # Issue 14: "--rule tag 'v*' '{tag}'" recorded "no rule matched refs/tags/v1.0".
    await bind(client, auth_headers, gitlab)
    rules = [{"type": "tag", "pattern": "v*", "tag": "{tag}"}]
    repo = await link(client, auth_headers, gitlab, name="web", rules=rules)

    await git_push(gitlab, tmp_path / "work", tag="v1.0")

    found = await wait_deliveries(client, auth_headers, repo["id"], 2)
    outcomes = {delivery["ref"]: delivery["outcome"] for delivery in found}
    assert outcomes == {
        "refs/heads/main": "no rule matched refs/heads/main",
        "refs/tags/v1.0": "queued 1 build",
    }
    [build] = await builds(client)
    assert build.tags == ["127.0.0.1:5000/team/web:v1.0"]
