"""Worker processes with settings of their own: a build timeout, a wrong registry
password, and a worker killed with SIGKILL in the middle of a build."""

from __future__ import annotations

import signal
import time

import pytest

from tests.build_steps import running_steps
from tests.e2e.stack import ROOT, Stack

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"


def test_a_build_over_its_time_limit_is_timed_out_and_stopped(no_default_worker: Stack) -> None:
    stack = no_default_worker
    stack.start_worker("worker-timeout", build_timeout_seconds="3")
    try:
        project = stack.new_project()
        repository = stack.link(project, "slow", [{"type": "branch", "pattern": "main"}])
        marker = f"sleep 62 && echo timeout-{time.monotonic_ns()}"
        stack.push(project, {"Dockerfile": BASE + f"RUN {marker}\n"})
        build_id = stack.wait_new_build(repository["id"])

        build = stack.wait_status(build_id, timeout=30)

        assert (build["status"], build["error"]["code"]) == ("timed_out", "BUILD_TIMEOUT")
        assert build["durations"]["total"] < 10
        deadline = time.monotonic() + 5
        while running_steps(marker):  # the engine stopped the step
            assert time.monotonic() < deadline, "the timed-out build still runs"
            time.sleep(0.1)
    finally:
        stack.stop("worker-timeout")


def test_a_wrong_registry_password_is_unauthorized(no_default_worker: Stack) -> None:
    stack = no_default_worker
    # Under token auth the login is the account's, refused by buildsvc's token server.
    stack.start_worker(
        "worker-password",
        registry_username=stack.services.registry_username,
        registry_password="not-the-password",
    )
    try:
        project = stack.new_project()
        repository = stack.link(project, "denied", [{"type": "branch", "pattern": "main"}])
        stack.push(project, ROOT / "examples" / "hello")

        build = stack.wait_status(stack.wait_new_build(repository["id"]))

        assert (build["status"], build["error"]["code"]) == ("failed", "REGISTRY_UNAUTHORIZED")
        assert "unauthorized" in build["error"]["detail"].lower()
        assert "not-the-password" not in stack.log("worker-password")
    finally:
        stack.stop("worker-password")


def test_a_build_whose_worker_is_killed_is_picked_up_again(no_default_worker: Stack) -> None:
    stack = no_default_worker
    lost = {"worker_lost_after_seconds": "3", "worker_heartbeat_seconds": "0.5"}
    doomed = stack.start_worker("worker-doomed", **lost)
    project = stack.new_project()
    repository = stack.link(project, "killed", [{"type": "branch", "pattern": "main"}])
    marker = f"sleep 4 && echo killed-{time.monotonic_ns()}"
    stack.push(project, {"Dockerfile": BASE + f"RUN echo step && {marker}\n"})
    build_id = stack.wait_new_build(repository["id"])
    deadline = time.monotonic() + 30
    while not running_steps(marker):  # mid-build: the slow step runs
        assert time.monotonic() < deadline, stack.log("worker-doomed")
        time.sleep(0.05)

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    stack.processes.pop("worker-doomed")
    assert stack.build(build_id)["status"] == "building"  # nobody said otherwise
    stack.start_worker("worker-rescuer", **lost)
    try:
        build = stack.wait_status(build_id, timeout=60)
    finally:
        stack.stop("worker-rescuer")

    assert build["status"] in {"succeeded", "failed"}
    if build["status"] == "failed":
        assert build["error"]["code"] == "WORKER_LOST"
    log = stack.call("GET", f"/api/v1/builds/{build_id}/logs?limit=10000")["items"]
    lines = [item["line"] for item in log]
    assert any("the build is queued again" in line for line in lines)
    assert [item["seq"] for item in log] == list(range(1, len(log) + 1))
