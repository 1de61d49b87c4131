"""An idle worker starts a pushed build at once, not at its next poll tick.

The intake publishes a wake-up with every enqueue (``buildsvc.builds.outbox.WAKE_CHANNEL``);
the worker listens and starts due jobs. With a poll delay of a minute, only the wake-up
can start the build within seconds.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.common.e2e_stack import Stack

pytestmark = pytest.mark.e2e
POLL_DELAY = 60  # seconds: far longer than the test may wait


def test_a_push_wakes_an_idle_worker(no_default_worker: Stack) -> None:
    stack = no_default_worker
    stack.start_worker("worker-slow-poll", worker_poll_delay_seconds=str(POLL_DELAY))
    try:
        project = stack.new_project()
        repository = stack.link(project, "wakeup", [{"type": "branch", "pattern": "main"}])
        time.sleep(0.5)  # the worker's first poll (at start) is behind it
        dockerfile = f"FROM buildsvc/busybox:latest\nLABEL n={time.time()}\n"
        stack.push(project, {"Dockerfile": dockerfile})
        build = stack.wait_status(stack.wait_new_build(repository["id"]), timeout=30)
    finally:
        stack.stop("worker-slow-poll")
    assert build["status"] == "succeeded", build
    queued = dt.datetime.fromisoformat(build["queued_at"])
    started = dt.datetime.fromisoformat(build["fetching_at"])
    assert (started - queued).total_seconds() < 5, build
