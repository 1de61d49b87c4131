"""docker_build against the real Docker engine (base image from scripts/services.sh)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from buildsvc.worker.docker_build import (
    BuildRequest,
    StreamCancel,
    build_image,
    build_image_sync,
    check_dockerfile,
    oci_labels,
    resolve_context,
)
from buildsvc.worker.errors import (
    BuildCancelled,
    BuildContextNotFound,
    BuildFailed,
    DockerfileNotFound,
    DockerUnavailable,
)
from tests.conftest_services import Services

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BASE = "FROM buildsvc/busybox:latest\n"


def make_context(root: Path, dockerfile: str, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, content in files.items():
        (root / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (root / name.replace("__", "/")).write_text(content)
    return root


async def test_builds_example_with_oci_labels_and_every_tag(
    docker_api: docker.APIClient, image_name: str, services: Services
) -> None:
    created = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    labels = oci_labels("http://forge.test/group/hello", "ab" * 20, created)
    request = BuildRequest(
        context=EXAMPLES / "hello", tags=(f"{image_name}:1", f"{image_name}:latest"), labels=labels
    )
    lines: list[str] = []

    image_id = await build_image(docker_api, request, on_line=lines.append)

    inspected = docker_api.inspect_image(image_id)
    assert inspected["Config"]["Labels"] == labels
    assert labels["org.opencontainers.image.created"] == "2024-05-01T12:00:00Z"
    assert set(inspected["RepoTags"]) == {f"{image_name}:1", f"{image_name}:latest"}
    assert any(line.startswith("Step 1/") for line in lines)
    client = docker.DockerClient(base_url=services.docker_url)
    output = client.containers.run(image_id, remove=True)
    client.close()
    assert output.decode().startswith("Hello from buildsvc!\n")


def test_dockerignore_is_honoured(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        BASE + "COPY . /ctx/\nRUN test -f /ctx/kept.txt && test ! -e /ctx/secret.env "
        "&& test ! -e /ctx/build/out.bin && echo ignored-files-absent\n",
        **{
            "kept.txt": "keep",
            "secret.env": "X=1",
            "build__out.bin": "bin",
            ".dockerignore": "secret.env\nbuild/\n",
        },
    )
    lines: list[str] = []
    build_image_sync(
        docker_api, BuildRequest(context=context, tags=(image_name,)), on_line=lines.append
    )
    assert "ignored-files-absent" in lines


def test_build_args_network_and_memory_limit(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        BASE + 'ARG GREETING\nRUN echo "greeting=$GREETING" && echo "nics=$(ls /sys/class/net)" '
        '&& echo "mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null '
        '|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"\n',
    )
    request = BuildRequest(
        context=context,
        tags=(image_name,),
        buildargs={"GREETING": "hi there"},
        network_mode="none",
        memory_limit="64m",
    )
    lines: list[str] = []
    build_image_sync(docker_api, request, on_line=lines.append)
    assert "greeting=hi there" in lines
    assert "nics=lo" in lines
    assert f"mem={64 * 1024 * 1024}" in lines


def test_no_cache_rebuilds_every_step(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", BASE + f"RUN echo {image_name} > /marker\n")
    request = BuildRequest(context=context, tags=(image_name,))
    build_image_sync(docker_api, request)
    cached: list[str] = []
    build_image_sync(docker_api, request, on_line=cached.append)
    fresh: list[str] = []
    nocache = BuildRequest(context=context, tags=(image_name,), nocache=True)
    build_image_sync(docker_api, nocache, on_line=fresh.append)
    assert any("Using cache" in line for line in cached)
    assert not any("Using cache" in line for line in fresh)


def test_missing_dockerfile_names_the_path(docker_api: docker.APIClient, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", BASE)
    with pytest.raises(DockerfileNotFound) as caught:
        build_image_sync(
            docker_api, BuildRequest(context=context, tags=(), dockerfile="docker/Dockerfile.prod")
        )
    assert caught.value.code == "DOCKERFILE_NOT_FOUND"
    assert caught.value.path == "docker/Dockerfile.prod"
    assert "docker/Dockerfile.prod" in str(caught.value.detail)


@pytest.mark.parametrize("dockerfile", ["../Dockerfile", "/etc/passwd", "link/Dockerfile"])
def test_dockerfile_outside_context_is_refused(tmp_path: Path, dockerfile: str) -> None:
    make_context(tmp_path, BASE)
    context = make_context(tmp_path / "ctx", BASE)
    (context / "link").symlink_to(tmp_path)
    with pytest.raises(DockerfileNotFound, match="outside"):
        check_dockerfile(context, dockerfile)


def test_context_is_resolved_inside_the_checkout(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    assert resolve_context(tmp_path, "/app/") == (tmp_path / "app").resolve()
    assert resolve_context(tmp_path, "") == tmp_path.resolve()
    with pytest.raises(BuildContextNotFound):
        resolve_context(tmp_path, "../")
    with pytest.raises(BuildContextNotFound):
        resolve_context(tmp_path, "missing")


def test_failing_step_names_step_with_last_lines(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        BASE + "RUN echo first step ok\nRUN echo about to fail && exit 3\nRUN echo never\n",
    )
    with pytest.raises(BuildFailed) as caught:
        build_image_sync(docker_api, BuildRequest(context=context, tags=(image_name,)))
    error = caught.value
    assert error.code == "BUILD_FAILED"
    assert error.step == "Step 3/4 : RUN echo about to fail && exit 3"
    assert "about to fail" in error.last_lines
    assert "first step ok" not in error.last_lines  # the tail is the failing step's own
    assert "returned a non-zero code: 3" in str(error.detail)
    assert error.step in str(error.detail)
    assert not docker_api.containers(
        all=True, filters={"ancestor": "buildsvc/busybox:latest", "status": "exited"}
    )


def test_dockerfile_syntax_error_is_build_failed(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", BASE + "NOTANINSTRUCTION x\n")
    with pytest.raises(BuildFailed, match=r"(?i)unknown instruction"):
        build_image_sync(docker_api, BuildRequest(context=context, tags=(image_name,)))


async def test_cancel_stops_running_step_at_once(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", BASE + "RUN echo sleeping-now && sleep 30\n")
    before = {c["Id"] for c in docker_api.containers(all=True)}
    handle = StreamCancel()
    cancelled_at: list[float] = []

    def on_line(line: str) -> None:
        if line == "sleeping-now":
            cancelled_at.append(time.monotonic())
            handle.cancel()

    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    with pytest.raises(BuildCancelled):
        await build_image(docker_api, request, on_line=on_line, cancel=handle)
    assert time.monotonic() - cancelled_at[0] < 2
    await assert_no_new_containers(docker_api, before)


async def test_cancelling_the_task_cancels_the_build(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", BASE + "RUN echo sleeping-now && sleep 30\n")
    before = {c["Id"] for c in docker_api.containers(all=True)}
    started = asyncio.Event()

    def on_line(line: str) -> None:
        if line == "sleeping-now":
            started.set()

    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    task = asyncio.create_task(build_image(docker_api, request, on_line=on_line))
    await asyncio.wait_for(started.wait(), 30)
    begun = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - begun < 2
    await assert_no_new_containers(docker_api, before)


async def assert_no_new_containers(api: docker.APIClient, before: set[str]) -> None:
    # The daemon removes the step's container right after the cancel; allow it 2 s.
    left: set[str] = set()
    for _ in range(20):
        left = {c["Id"] for c in api.containers(all=True)} - before
        if not left:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"containers left behind: {left}")


def test_engine_unreachable_is_docker_unavailable(tmp_path: Path, unused_tcp_port: int) -> None:
    # TCP, not a missing unix socket: docker-py leaks the socket of a failed unix connect.
    api = docker.APIClient(base_url=f"tcp://127.0.0.1:{unused_tcp_port}", version="1.41")
    context = make_context(tmp_path / "ctx", BASE)
    with pytest.raises(DockerUnavailable) as caught:
        build_image_sync(api, BuildRequest(context=context, tags=("x:1",)))
    assert caught.value.transient
