"""``BUILDSVC_WORKER_CONCURRENCY`` is how many builds one worker process runs at once.

Two pushes to two repositories, each build with a 2 s step: a worker with concurrency 1
runs them one after the other, a worker with concurrency 2 side by side.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.common.e2e_stack import Stack

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"


def two_builds(stack: Stack, label: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Push two projects at once; each build's (fetching_at, finished_at) once both end."""
    build_ids = []
    for number in range(2):
        project = stack.new_project()
        repository = stack.link(
            project, f"{label}-{number}", [{"type": "branch", "pattern": "main"}]
        )
        marker = f"{label}-{number}-{time.monotonic_ns()}"
        stack.push(project, {"Dockerfile": BASE + f"RUN echo {marker} && sleep 2\n"})
        build_ids.append(stack.wait_new_build(repository["id"]))
    spans = []
    for build_id in build_ids:
        build = stack.wait_status(build_id, timeout=60)
        assert build["status"] == "succeeded", build
        spans.append(
            (
                dt.datetime.fromisoformat(build["fetching_at"]),
                dt.datetime.fromisoformat(build["finished_at"]),
            )
        )
    return sorted(spans)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_concurrency_is_a_setting(no_default_worker: Stack, concurrency: int) -> None:
    stack = no_default_worker
    name = f"worker-c{concurrency}"
    stack.start_worker(name, worker_concurrency=str(concurrency))
    try:
        assert f"ready: {concurrency} concurrent builds" in stack.log(name)
        first, second = two_builds(stack, f"c{concurrency}")
    finally:
        stack.stop(name)
    overlap = first[1] > second[0]
    assert overlap is (concurrency == 2), (first, second)
