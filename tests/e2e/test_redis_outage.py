"""The stack outlives Redis: a Redis of the test's own is stopped for 10 s under a
running worker while deliveries arrive, then started again empty (no persistence,
like the stack's). Without a restart of any process:

- the worker stays up, logging the outage once and its end once;
- the build in flight ends (its heartbeats are database writes), and a follower of its
  log gets every line and the end;
- builds whose jobs Redis lost are enqueued again by the workers' sweep, and builds
  delivered during the outage by the API's outbox (or that sweep, whichever is first);
  each runs exactly once.

And a worker stopped during an outage shuts down cleanly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.common.e2e_stack import Stack
from tests.common.servers import RedisServer
from tests.common.services import ensure_services

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"
OUTAGE_SECONDS = 10.0


@pytest.fixture
def outage_stack(tmp_path: Any, own_redis: RedisServer) -> Iterator[tuple[Stack, RedisServer]]:
    services = dataclasses.replace(ensure_services(), redis_url=own_redis.url)
    # A quick reaper, so the test need not wait the default 15 s for lost jobs.
    lost = {"worker_lost_after_seconds": "6", "worker_heartbeat_seconds": "1"}
    stack = Stack(tmp_path / "stack", 0, settings=lost, services=services)
    try:
        stack.start()
        yield stack, own_redis
    finally:
        stack.close()


def deliver(stack: Stack, name: str, step: str) -> int:
    """A push to a project of its own (no build supersedes another); its build's id."""
    project = stack.new_project()
    repository = stack.link(project, name, [{"type": "branch", "pattern": "main"}])
    stack.push(project, {"Dockerfile": BASE + f"RUN {step}\n"})
    return stack.wait_new_build(repository["id"])


def follow(stack: Stack, build_id: int, events: list[tuple[str, Any]]) -> None:
    """Collect the build's log stream (server-sent events) until it ends."""
    url = f"{stack.api_url}/api/v1/builds/{build_id}/logs?follow=true"
    headers = {"Authorization": f"Bearer {stack.token}"}
    with requests.get(url, headers=headers, stream=True, timeout=120) as response:
        event = "message"
        for raw in response.iter_lines(decode_unicode=True):
            if raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("data: "):
                events.append((event, json.loads(raw[6:])))
            elif not raw:
                event = "message"


def headers_in_log(stack: Stack, build_id: int) -> list[str]:
    """The lines a run of the build starts its log with: one per time it ran."""
    items = stack.call("GET", f"/api/v1/builds/{build_id}/logs?limit=10000")["items"]
    return [item["line"] for item in items if item["line"].startswith(f"Build {build_id}: ")]


def test_builds_run_after_a_redis_outage_without_a_restart(
    outage_stack: tuple[Stack, RedisServer],
) -> None:
    stack, server = outage_stack
    worker = stack.start_worker(worker_concurrency="1")
    run = time.monotonic_ns()  # in every step: no step comes from the engine's cache
    slow = deliver(stack, "slow", f"echo begin {run} && sleep 7 && echo end")
    stack.wait_status(slow, {"building"}, timeout=60)
    events: list[tuple[str, Any]] = []
    follower = threading.Thread(target=follow, args=(stack, slow, events))
    follower.start()
    # Queued behind the slow build: their jobs wait in Redis, which then loses them.
    before = [deliver(stack, f"before-{n}", f"echo before-{n} {run}") for n in range(2)]

    stopped = time.monotonic()
    server.stop()
    during = [deliver(stack, f"during-{n}", f"echo during-{n} {run}") for n in range(3)]
    time.sleep(max(0.0, stopped + OUTAGE_SECONDS - time.monotonic()))
    assert worker.poll() is None, stack.log("worker")
    server.start()
    back = dt.datetime.now(dt.UTC)

    builds = {b: stack.wait_status(b, timeout=120) for b in [slow, *before, *during]}
    follower.join(30)

    assert {b: build["status"] for b, build in builds.items()} == dict.fromkeys(builds, "succeeded")
    assert (worker.poll(), stack.processes["api"].poll()) == (None, None)
    for build_id, build in builds.items():
        assert len(headers_in_log(stack, build_id)) == 1, build  # ran once, first attempt
    log = stack.log("worker")
    assert log.count("redis connection lost") == 1, log
    assert log.count("redis connection restored after") == 1, log
    lines = [data for event, data in events if event != "end"]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert any(line["line"].endswith(" end") or line["line"] == "end" for line in lines)
    assert events[-1] == ("end", {"status": "succeeded", "error": None})
    started = min(when(builds[b]["fetching_at"]) for b in before + during)
    print(f"first build started {(started - back).total_seconds():.1f} s after Redis was back")


def when(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def test_a_worker_stopped_during_an_outage_exits_cleanly(
    outage_stack: tuple[Stack, RedisServer],
) -> None:
    stack, server = outage_stack
    worker = stack.start_worker()
    server.stop()
    stack.wait_log("worker", "redis connection lost", 10)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(20) == 0
    assert "Task was destroyed" not in stack.log("worker")
