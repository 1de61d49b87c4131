"""`scripts/cluster.sh` (make cluster / make cluster-stop), driven the way a user would.

The cluster runs in a directory and on ports of its own (CLUSTER_DIR, CLUSTER_*_PORT),
so this test runs beside a developer's `make cluster`. Through the load balancer: bind
forgesim's GitLab, link a repository, `git push`, follow the log (SSE through haproxy,
lines arriving while the step runs), see the build succeed; then the same with the
worker that built it stopped, so the other engine builds. An API stopped costs no
request through haproxy; `start` again restarts what was stopped. Stopping leaves no
process and no listening port behind.
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from forgesim.client import AdminClient
from tests.common.cluster import LocalCluster
from tests.common.e2e_stack import git

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@dataclass
class Cluster(LocalCluster):
    token: str = ""

    def timed(self, command: str) -> tuple[float, str]:
        started = time.monotonic()
        output = self.script(command)
        return time.monotonic() - started, output

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = requests.request(method, self.url + path, json=body, headers=headers, timeout=30)
        assert response.status_code == expect, response.text
        return response.json()

    def engine(self, number: int) -> str:
        if number == 1:
            return "unix:///var/run/docker.sock"
        return f"unix://{self.directory}/docker/docker.sock"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    running = Cluster.create({})
    try:
        yield running
    finally:
        running.stop()
        running.remove()


def push(work: Path, forge_url: str, token: str, message: str) -> str:
    """A build with a step that prints, waits 2 s and prints again (never cached)."""
    run = f"{message}-{secrets.token_hex(4)}"
    (work / "Dockerfile").write_text(
        f"FROM buildsvc/busybox:latest\nRUN echo begin {run} && sleep 2 && echo end {run}\n"
    )
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    basic = base64.b64encode(f"alice:{token}".encode()).decode()
    auth = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{forge_url}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        "GIT_TERMINAL_PROMPT": "0",
    }
    git(work, "push", "-q", "origin", "HEAD:refs/heads/main", env=auth)
    return git(work, "rev-parse", "HEAD")


def follow_to_end(cluster: Cluster, repository_id: int, after: int) -> dict[str, Any]:
    """The push's build, followed as server-sent events through haproxy to its end."""
    deadline = time.monotonic() + 30
    while True:
        path = f"/api/v1/builds?repository_id={repository_id}"
        ids = [b["id"] for b in cluster.call("GET", path)["items"] if b["id"] > after]
        if ids:
            break
        assert time.monotonic() < deadline, "the push made no build"
        time.sleep(0.1)
    url = f"{cluster.url}/api/v1/builds/{max(ids)}/logs?follow=true"
    headers = {"Authorization": f"Bearer {cluster.token}"}
    began = ended = 0.0
    event = "message"
    with requests.get(url, headers=headers, stream=True, timeout=180) as response:
        assert response.status_code == 200, response.text
        for raw in response.iter_lines(decode_unicode=True):
            if raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("data: ") and event == "end":
                assert json.loads(raw[6:])["status"] == "succeeded", raw
                ended = time.monotonic()
                break
            elif raw.startswith("data: ") and " begin " in raw and not began:
                began = time.monotonic()
    # Streamed, not buffered by the load balancer: the step's first line came while it ran.
    assert began
    assert ended - began > 1.5
    build: dict[str, Any] = cluster.call("GET", f"/api/v1/builds/{max(ids)}")
    return build


def engine_with(cluster: Cluster, tag: str) -> int:
    """Which of the two engines holds the image ``tag`` (the one that built it)."""
    found = []
    for number in (1, 2):
        client = docker.APIClient(base_url=cluster.engine(number), version="auto")
        try:
            if client.images(name=tag, quiet=True):
                found.append(number)
        finally:
            client.close()
    assert len(found) == 1, f"{tag} on engines {found}"
    return found[0]


def leftovers(cluster: Cluster) -> list[str]:
    """Processes naming the cluster's directory, and ports still listening."""
    left = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and str(cluster.directory) in cmdline:
            left.append(f"pid {proc.name}: {cmdline[:120]}")
    for name, port in cluster.ports.items():
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                left.append(f"{name} port {port} still answers")
    return left


def test_make_cluster_builds_a_push_on_either_engine_and_stops_clean(cluster: Cluster) -> None:
    cold, output = cluster.timed("start")
    print(f"cluster.sh start (cold): {cold:.1f} s")
    assert "cluster: ready" in output
    assert requests.get(cluster.url + "/healthz", timeout=5).json()["status"] == "ok"
    tls = requests.get(
        f"https://127.0.0.1:{cluster.ports['LB_TLS']}/healthz",
        verify=str(cluster.directory / "tls" / "lb.crt"),
        timeout=5,
    )
    assert tls.status_code == 200

    forge_url = cluster.forge_url
    forge = AdminClient(forge_url)
    forge.create_user("alice")
    forge_token = forge.create_token("alice", ["api"])
    forge.create_namespace("acme", members={"alice": "maintainer"})
    project = forge.create_repository("acme", "app")
    forge.close()

    cluster.token = cluster.create_account("e2e")
    source = {"provider": "gitlab", "url": forge_url, "username": "alice", "token": forge_token}
    cluster.call("POST", "/api/v1/sources", source, expect=201)
    rules = [{"type": "branch", "pattern": "main", "tag": "{short_sha}"}]
    body = {
        "namespace": "e2e",
        "name": "app",
        "source": {"provider": "gitlab", "repository": project["full_path"]},
        "rules": rules,
    }
    repository = cluster.call("POST", "/api/v1/repositories", body, expect=201)

    work = cluster.directory / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", project["clone_url"])
    sha = push(work, forge_url, forge_token, "first")
    first = follow_to_end(cluster, repository["id"], 0)
    assert first["commit_sha"] == sha
    built_on = engine_with(cluster, first["tags"][0])

    # With that engine's worker stopped, the next push can only build on the other one.
    cluster.signal(f"worker-{built_on}", signal.SIGTERM)
    sha = push(work, forge_url, forge_token, "second")
    second = follow_to_end(cluster, repository["id"], first["id"])
    assert second["commit_sha"] == sha
    assert engine_with(cluster, second["tags"][0]) == 3 - built_on

    # An API going away costs no request: haproxy sends it to the other one.
    cluster.signal("api-1", signal.SIGTERM)
    for _ in range(20):
        assert requests.get(cluster.url + "/healthz", timeout=5).status_code == 200

    warm, output = cluster.timed("start")  # idempotent: restarts what was stopped only
    print(f"cluster.sh start (warm, one worker and one API down): {warm:.1f} s")
    assert f"worker-{built_on}: started" in output
    assert "api-1: started" in output
    assert "api-2: running" in output
    assert f"worker-{3 - built_on}: running" in output

    stopping, _ = cluster.timed("stop")
    print(f"cluster.sh stop: {stopping:.1f} s")
    assert leftovers(cluster) == []
