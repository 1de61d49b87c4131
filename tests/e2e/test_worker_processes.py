"""Worker processes with settings of their own: a build timeout, a wrong registry
password, a worker killed with SIGKILL in the middle of a build, and one stopped with
SIGTERM there: it finishes the build within its grace period, or hands it back after."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import time

import pytest

from tests.common.build_steps import running_steps
from tests.common.e2e_stack import Stack

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


def test_a_worker_with_a_wrong_registry_password_does_not_start(stack: Stack) -> None:
    # Its startup check logs in and opens a push (REGISTRY_UNAUTHORIZED at build time
    # remains for a password changed while it runs). Under token auth the login is an
    # account's, refused by buildsvc's token server.
    worker = stack.spawn(
        "worker-password",
        "worker",
        registry_username=stack.services.registry_username,
        registry_password="not-the-password",
    )

    assert worker.wait(timeout=60) == 2
    (line,) = stack.log("worker-password").strip().splitlines()
    who = stack.services.registry_username
    assert f"registry: {stack.registry} refuses the login of {who}" in line
    assert "not-the-password" not in line


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


def _mid_build(
    stack: Stack, worker: str, grace: int, seconds: int
) -> tuple[subprocess.Popen[bytes], int, str]:
    """A worker with ``grace`` running a build whose slow step sleeps ``seconds``: the
    worker, the build's id and the step's marker, once the step runs."""
    process = stack.start_worker(worker, worker_shutdown_grace_seconds=str(grace))
    name = f"{worker}-app"
    project = stack.new_project()
    repository = stack.link(project, name, [{"type": "branch", "pattern": "main"}])
    marker = f"sleep {seconds} && echo {name}-{time.monotonic_ns()}"
    stack.push(project, {"Dockerfile": BASE + f"RUN echo step && {marker}\n"})
    build_id = stack.wait_new_build(repository["id"])
    deadline = time.monotonic() + 30
    while not running_steps(marker):
        assert time.monotonic() < deadline, stack.log(worker)
        time.sleep(0.05)
    return process, build_id, marker


def _lines(stack: Stack, build_id: int) -> list[str]:
    items = stack.call("GET", f"/api/v1/builds/{build_id}/logs?limit=10000")["items"]
    return [item["line"] for item in items]


def test_a_worker_stopped_mid_build_finishes_it_within_the_grace(
    no_default_worker: Stack,
) -> None:
    stack = no_default_worker
    leaving, build_id, _ = _mid_build(stack, "worker-finishing", grace=60, seconds=3)

    leaving.send_signal(signal.SIGTERM)

    assert leaving.wait(60) == 0
    stack.processes.pop("worker-finishing")
    build = stack.build(build_id)
    assert build["status"] == "succeeded"
    lines = _lines(stack, build_id)
    assert not any("queued again" in line for line in lines)
    assert sum(line.startswith(f"Build {build_id}: ") for line in lines) == 1  # one run
    assert "Setting allow_pick_jobs to `False`" in stack.log("worker-finishing")


def test_a_worker_stopped_mid_build_hands_it_back_after_the_grace(
    no_default_worker: Stack,
) -> None:
    stack = no_default_worker
    leaving, build_id, marker = _mid_build(stack, "worker-leaving", grace=1, seconds=8)
    stopped = time.monotonic()

    leaving.send_signal(signal.SIGTERM)

    assert leaving.wait(30) == 0
    stack.processes.pop("worker-leaving")
    assert 1 <= time.monotonic() - stopped < 8  # it waited the grace, not the whole step
    assert stack.build(build_id)["status"] == "queued"
    deadline = time.monotonic() + 5
    while running_steps(marker):  # the engine stopped the step
        assert time.monotonic() < deadline, "the handed-back step still runs"
        time.sleep(0.1)
    stack.start_worker("worker-taking-over")
    try:
        assert stack.wait_status(build_id, timeout=60)["status"] == "succeeded"
    finally:
        stack.stop("worker-taking-over")
    handed_back = [line for line in _lines(stack, build_id) if "queued again" in line]
    assert handed_back == [
        "The worker is shutting down and the build did not finish within its 1 s grace"
        " period; the build is queued again."
    ]


def test_workers_sharing_a_data_directory_build_one_repository_in_trees_of_their_own(
    no_default_worker: Stack,
) -> None:
    # Two repositories built from one source push two builds of one commit; one build
    # per worker, so both run at once, each in a kept tree of its own.
    stack = no_default_worker
    workers = ("worker-tree-a", "worker-tree-b")
    for name in workers:
        stack.start_worker(name, worker_concurrency="1")
    try:
        project = stack.new_project()
        rules = [{"type": "branch", "pattern": "main"}]
        repositories = [stack.link(project, f"shared-tree-{n}", rules) for n in "ab"]
        marker = f"tree-{time.monotonic_ns()}"
        # The step fails unless the tree held this commit's files (BuildKit may run it
        # once for both builds: the same step on the same files).
        dockerfile = BASE + f"COPY marker /marker\nRUN sleep 4 && grep -qx {marker} /marker\n"
        stack.push(project, {"Dockerfile": dockerfile, "marker": marker})
        build_ids = [stack.wait_new_build(repository["id"]) for repository in repositories]
        builds = [stack.wait_status(build_id, timeout=90) for build_id in build_ids]
    finally:
        for name in workers:
            stack.stop(name)

    assert [build["status"] for build in builds] == ["succeeded", "succeeded"]
    held = [  # from the fetch to the built image, a build holds its tree
        (dt.datetime.fromisoformat(b["fetching_at"]), dt.datetime.fromisoformat(b["pushing_at"]))
        for b in builds
    ]
    assert max(start for start, _ in held) < min(end for _, end in held)  # at once
    trees = {path.name for path in (stack.data / "sources").iterdir()}
    doubled = [name for name in trees if f"{name}.1" in trees]  # a key's first two trees
    assert doubled, trees
