"""The live log reaches a client through any API process, not only the one that got the push.

A second ``buildsvc serve`` on the same database and Redis follows a build that the
worker process runs: lines arrive while the step still runs, in the stored order, and
the stream ends with the build.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.common.build_steps import said
from tests.common.e2e_stack import Stack
from tests.common.servers import free_port

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"


def follow(stack: Stack, api_url: str, build_id: int) -> Iterator[tuple[str, str | None, Any]]:
    """(event, id, data) of each server-sent event of ``api_url``'s log stream."""
    url = f"{api_url}/api/v1/builds/{build_id}/logs?follow=true"
    with stack.http.get(url, stream=True, timeout=90) as response:
        assert response.status_code == 200, response.text
        event, event_id = "message", None
        for raw in response.iter_lines(decode_unicode=True):
            if raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("id: "):
                event_id = raw[4:]
            elif raw.startswith("data: "):
                yield event, event_id, json.loads(raw[6:])
            elif not raw:
                event, event_id = "message", None


def healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


def test_a_second_api_process_streams_the_live_log(stack: Stack) -> None:
    port = free_port()
    other = f"http://127.0.0.1:{port}"
    stack.spawn("api-2", "serve", port=str(port))
    try:
        stack.wait_log("api-2", "serving on", 60)
        deadline = time.monotonic() + 60
        while not healthy(f"{other}/healthz"):
            assert time.monotonic() < deadline, stack.log("api-2")
            time.sleep(0.1)
        marker = f"live-{time.monotonic_ns()}"
        project = stack.new_project()
        repository = stack.link(project, "live", [{"type": "branch", "pattern": "main"}])
        dockerfile = BASE + f"RUN echo {marker} && sleep 2\nRUN echo after-{marker}\n"
        stack.push(project, {"Dockerfile": dockerfile})
        build_id = stack.wait_new_build(repository["id"])

        seen: list[tuple[str, str | None, Any]] = []
        status_at_marker = None
        for item in follow(stack, other, build_id):
            seen.append(item)
            said_marker = item[0] == "message" and said([item[2]["line"]], marker)
            if said_marker and status_at_marker is None:
                status_at_marker = stack.build(build_id)["status"]
    finally:
        stack.stop("api-2")

    assert status_at_marker == "building", "the line came only after the build"
    assert seen[-1] == ("end", None, {"status": "succeeded", "error": None})
    lines = [data for event, _, data in seen if event == "message"]
    stored = stack.call("GET", f"/api/v1/builds/{build_id}/logs?limit=10000")["items"]
    assert lines == stored  # every stored line once, in order, nothing else
    assert said([line["line"] for line in stored], f"after-{marker}"), stored
    assert [event_id for event, event_id, _ in seen[:-1]] == [str(x["seq"]) for x in stored]
