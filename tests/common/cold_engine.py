"""A second Docker engine that has never built anything: for the registry build cache.

``cold_engine()`` starts a ``dockerd`` of its own (data, exec root and socket in a new
directory under /tmp: containerd's socket paths must stay short), loads the base image
into it from the main engine (no image can be pulled from the internet here), yields its
URL and stops it. It needs root, as the main engine does. ``warm_builder(url)`` starts
its BuildKit with a throwaway build. Used by the worker tests and the cache benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker

from tests.common.servers import end_process
from tests.common.services import BASE_IMAGE, DOCKER_URL

START_SECONDS = 60


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    # The CLI, not an APIClient: one that fails to connect leaves its socket open.
    deadline = time.monotonic() + START_SECONDS
    while True:
        probe = ["docker", "-H", url, "version", "--format", "{{.Server.Version}}"]
        if subprocess.run(probe, capture_output=True, check=False, timeout=10).returncode == 0:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the second dockerd did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


def _load_base_image(url: str) -> None:
    with (
        docker.APIClient(base_url=DOCKER_URL, version="auto", timeout=120) as main,
        docker.APIClient(base_url=url, version="auto", timeout=120) as cold,
    ):
        saved = main.get_image(BASE_IMAGE)
        cold.load_image(b"".join(saved))


@contextlib.contextmanager
def cold_engine() -> Iterator[str]:
    """A fresh dockerd with only the base image; its ``unix://`` URL."""
    root = Path(tempfile.mkdtemp(prefix="cold-", dir="/tmp"))
    socket = root / "docker.sock"
    log = root / "dockerd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                "dockerd",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "exec"),
                "--pidfile",
                str(root / "dockerd.pid"),
                "-H",
                f"unix://{socket}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"unix://{socket}"
    try:
        _wait_ready(url, process, log)
        _load_base_image(url)
        yield url
    finally:
        end_process(process, signal.SIGTERM, 30)
        shutil.rmtree(root, ignore_errors=True)


def warm_builder(url: str) -> None:
    """One throwaway BuildKit build on the engine at ``url``, so its builder is up (as on
    an engine in service): the first build of a new dockerd also starts BuildKit."""
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo warm {secrets.token_hex(8)}\n"
    command = ["/usr/bin/docker", "-H", url, "build", "-q", "--network", "host", "-"]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}  # Debian's 20.10 CLI: BuildKit built in
    subprocess.run(command, input=dockerfile.encode(), env=env, check=True, capture_output=True)
