"""``GET /metrics``: builds by status, queue depth, phase histograms (from the database, on
SQLite and PostgreSQL), webhook deliveries by outcome and forge call latency by provider."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from buildsvc.app import create_app
from buildsvc.config import Settings
from buildsvc.metrics import METRICS, sample, webhook_outcome
from buildsvc.web.keys import SESSIONMAKER
from tests.common.factories import add_account, add_build, add_repository
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

REDIS_DB = 12
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")  # public: no token
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(await response.text())


async def seed(app: web.Application) -> None:
    """Builds in several states; two finished ones with known phase times."""
    async with app[SESSIONMAKER].begin() as session:
        account = await add_account(session)
        repo = await add_repository(session, account.id)
        for status in ("queued", "queued", "building"):
            await add_build(session, account.id, repo.id, status=status)
        await add_build(  # queued 1 s, fetching 2 s, building 3 s, pushing 4 s
            session,
            account.id,
            repo.id,
            status="succeeded",
            queued_at=at(0),
            fetching_at=at(1),
            building_at=at(3),
            pushing_at=at(6),
            finished_at=at(10),
        )
        await add_build(  # failed while building, after 40 s of it
            session,
            account.id,
            repo.id,
            status="failed",
            queued_at=at(0),
            fetching_at=at(0.2),
            building_at=at(0.4),
            finished_at=at(40.4),
        )


async def test_builds_queue_and_phase_histograms_come_from_the_database(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    settings_for: Callable[[str], Settings],
    database_url: str,
) -> None:
    client = await aiohttp_client(create_app(settings_for(database_url)))
    await seed(client.app)

    found = await scrape(client)

    def phase(name: str, le: str) -> float:
        key = ("buildsvc_build_phase_duration_seconds_bucket", (("le", le), ("phase", name)))
        return found[key]

    assert found[("buildsvc_builds", (("status", "queued"),))] == 2
    assert found[("buildsvc_builds", (("status", "building"),))] == 1
    assert found[("buildsvc_builds", (("status", "succeeded"),))] == 1
    assert found[("buildsvc_builds", (("status", "timed_out"),))] == 0
    assert found[("buildsvc_queue_depth", ())] == 2
    assert ("buildsvc_queue_jobs", ()) in found  # Redis answers
    assert phase("building", "2.5") == 0
    assert phase("building", "5.0") == 1  # the 3 s one
    assert phase("building", "60.0") == 2  # and the 40 s one
    assert phase("pushing", "5.0") == 1
    assert phase("pushing", "+Inf") == 1  # the failed build never pushed
    key = ("buildsvc_build_phase_duration_seconds_sum", (("phase", "total"),))
    assert found[key] == pytest.approx(50.4, abs=0.01)
    key = ("buildsvc_build_phase_duration_seconds_count", (("phase", "queued"),))
    assert found[key] == 2


def test_webhook_outcomes_have_few_labels() -> None:
    def accepted(outcome: str) -> str:
        return webhook_outcome(202, outcome)

    assert accepted("queued 2 builds") == "queued"
    assert accepted("no rule matched refs/heads/dev") == "no_rule_matched"
    assert accepted("branch deleted") == "ref_deleted"
    assert accepted("auto build off") == "auto_build_off"
    assert accepted("skipped: [skip ci]") == "skipped"
    assert accepted("skipped: no changed path matches the rules' path filters") == "paths_filtered"
    assert accepted("ignored: Issue Hook") == "ignored"
    assert accepted("something new") == "other"
    assert webhook_outcome(202, None) == "http_202"  # a handler that recorded no outcome
    assert webhook_outcome(401, None) == "unauthenticated"
    assert webhook_outcome(404, None) == "unknown_hook"
    assert webhook_outcome(413, None) == "too_large"
    assert webhook_outcome(400, None) == "malformed"
    assert webhook_outcome(500, None) == "error"


async def test_deliveries_and_forge_calls_are_counted(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    metrics = client.app[METRICS]

    unknown = await client.post("/webhooks/gitlab/no-such-hook", data=b"{}")
    assert unknown.status == 404
    refused = await client.post(
        "/api/v1/sources", json=gitlab.bind_body(token="wrong-token"), headers=auth_headers
    )
    assert refused.status == 422
    await bind(client, auth_headers, gitlab)
    await link(
        client,
        auth_headers,
        gitlab,
        name="metered",
        rules=[{"type": "branch", "pattern": "main", "tag": "latest"}],
    )
    await git_push(gitlab, tmp_path / "work")
    [sent] = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    assert sent["status"] == 202

    def count(name: str, **labels: str) -> float:
        return sample(metrics, name, labels) or 0.0

    assert count("buildsvc_webhook_deliveries_total", provider="gitlab", outcome="queued") == 1
    assert (
        count("buildsvc_webhook_deliveries_total", provider="gitlab", outcome="unknown_hook") == 1
    )
    forge = "buildsvc_forge_call_duration_seconds_count"
    assert count(forge, provider="gitlab", operation="bind", result="ok") == 1
    assert count(forge, provider="gitlab", operation="bind", result="SOURCE_ERROR_RESPONSE") == 1
    assert count(forge, provider="gitlab", operation="create_hook", result="ok") == 1
    assert count(forge, provider="gitlab", operation="get_repository", result="ok") == 1
    seconds = sample(
        metrics,
        "buildsvc_forge_call_duration_seconds_sum",
        {"provider": "gitlab", "operation": "bind", "result": "ok"},
    )
    assert seconds is not None
    assert 0 < seconds < 10

    text = await (await client.get("/metrics")).text()
    assert 'buildsvc_webhook_deliveries_total{outcome="queued",provider="gitlab"} 1.0' in text
    assert "buildsvc_forge_call_duration_seconds_bucket" in text


async def test_metrics_answer_without_a_token_and_list_every_series(client: Client) -> None:
    text = await (await client.get("/metrics")).text()
    for name in (
        "buildsvc_builds",
        "buildsvc_queue_depth",
        "buildsvc_build_phase_duration_seconds",
        "buildsvc_webhook_deliveries_total",
        "buildsvc_forge_call_duration_seconds",
    ):
        assert f"# HELP {name} " in text, name
