"""Builds that fail, and builds cancelled while queued and while building, end to end."""

from __future__ import annotations

import time

import pytest

from tests.common.build_steps import running_steps
from tests.common.e2e_stack import Stack

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"


def test_a_failing_step_is_named(stack: Stack) -> None:
    project = stack.new_project()
    repository = stack.link(project, "bad", [{"type": "branch", "pattern": "main"}])
    dockerfile = BASE + "RUN echo compiling\nRUN echo 'cc: error: no input files' && exit 1\n"
    stack.push(project, {"Dockerfile": dockerfile})

    build = stack.wait_status(stack.wait_new_build(repository["id"]))

    assert build["status"] == "failed"
    error = build["error"]
    assert error["code"] == "BUILD_FAILED"
    assert error["detail"].startswith("[3/3] RUN ")  # BuildKit's name of the step
    assert "RUN echo 'cc: error: no input files' && exit 1" in error["detail"]
    assert "cc: error: no input files" in error["detail"].split("last lines of output:")[1]
    assert build["pushing_at"] is None


def test_a_missing_dockerfile_is_named(stack: Stack) -> None:
    project = stack.new_project()
    rules = [{"type": "branch", "pattern": "main", "dockerfile": "docker/Dockerfile.prod"}]
    repository = stack.link(project, "nodockerfile", rules)
    stack.push(project, {"Dockerfile": BASE, "README.md": "no docker/ here\n"})

    build = stack.wait_status(stack.wait_new_build(repository["id"]))

    assert (build["status"], build["error"]["code"]) == ("failed", "DOCKERFILE_NOT_FOUND")
    assert "docker/Dockerfile.prod" in build["error"]["detail"]


def test_cancel_while_queued_and_while_building(stack: Stack) -> None:
    marker = f"sleep 61 && echo {project_marker()}"
    project = stack.new_project()
    repository = stack.link(project, "cancel", [{"type": "branch", "pattern": "main"}])
    stack.push(project, {"Dockerfile": BASE + f"RUN echo started && {marker}\n"})
    running = stack.wait_new_build(repository["id"])
    stack.wait_status(running, {"building"})
    # A second push waits behind the running build of the same ref: queued.
    stack.push(project, {"Dockerfile": BASE + "RUN echo second\n"})
    queued = stack.wait_new_build(repository["id"], after=running)
    assert stack.build(queued)["status"] == "queued"

    cancelled = stack.call("POST", f"/api/v1/builds/{queued}/cancel")
    assert cancelled["status"] == "cancelled"

    deadline = time.monotonic() + 30
    while not running_steps(marker):  # the slow step is running in the engine
        assert time.monotonic() < deadline, stack.log("worker")
        time.sleep(0.1)
    started = time.monotonic()
    assert stack.call("POST", f"/api/v1/builds/{running}/cancel")["status"] == "cancelled"
    events = list(stack.follow(running))
    while running_steps(marker):
        assert time.monotonic() - started < 2, "the build step still runs 2 s after cancel"
        time.sleep(0.05)
    assert time.monotonic() - started < 2
    who = stack.build(running)["cancelled_by"]
    assert who.endswith(")")
    assert " (token " in who
    assert events[-1] == (
        "end",
        {
            "status": "cancelled",
            "error": {
                "code": "BUILD_CANCELLED",
                "message": "The build was cancelled.",
                "detail": f"cancelled by {who} while building",
            },
        },
    )
    assert stack.build(queued)["status"] == "cancelled"  # its job never ran it


def project_marker() -> str:
    return f"{time.monotonic_ns()}"
