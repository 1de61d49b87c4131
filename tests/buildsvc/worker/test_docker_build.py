"""docker_build against the real Docker engine (base image from scripts/services.sh)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from buildsvc.worker.build_context import context_tar
from buildsvc.worker.docker_build import (
    Builder,
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
from buildsvc.worker.streaming import CancellableStream
from tests.common.build_contexts import make_context
from tests.common.build_steps import running_steps, said, step_cached
from tests.common.services import Services

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BASE = "FROM buildsvc/busybox:latest\n"
BUILDERS = pytest.mark.parametrize("builder", ["buildkit", "legacy"])
# BuildKit's two ways to the context: its session (the default) and a tar upload.
TRANSFERS = pytest.mark.parametrize("context_session", [True, False], ids=["session", "tar"])


@BUILDERS
async def test_builds_example_with_oci_labels_and_every_tag(
    docker_api: docker.APIClient, image_name: str, stack: Services, builder: Builder
) -> None:
    created = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    labels = oci_labels("http://forge.test/group/hello", "ab" * 20, created)
    tags = (f"{image_name}:1", f"{image_name}:latest")
    request = BuildRequest(context=EXAMPLES / "hello", tags=tags, labels=labels, builder=builder)
    lines: list[str] = []

    image_id = await build_image(docker_api, request, on_line=lines.append)

    inspected = docker_api.inspect_image(image_id)
    assert inspected["Config"]["Labels"] == labels
    assert labels["org.opencontainers.image.created"] == "2024-05-01T12:00:00Z"
    assert set(inspected["RepoTags"]) == {f"{image_name}:1", f"{image_name}:latest"}
    # BuildKit numbers steps in the order it reports them, which varies between runs.
    first_step = re.compile(r"#\d+ \[1/" if builder == "buildkit" else r"Step 1/")
    assert any(first_step.match(line) for line in lines), lines
    client = docker.DockerClient(base_url=stack.docker_url)
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
    assert said(lines, "ignored-files-absent")


@TRANSFERS
def test_buildkit_takes_contexts_whose_first_names_need_long_tar_headers(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, context_session: bool
) -> None:
    # Sorted first, these names need PAX headers; BuildKit would read such a tar as a
    # Dockerfile ("unknown instruction: ././@PAXHEADER") if one came first.
    long_name = "0" * 120 + ".txt"
    context = make_context(
        tmp_path / "ctx",
        BASE + f"COPY . /ctx/\nRUN test -f /ctx/{long_name} && test -f /ctx/-é.txt && echo ok\n",
        **{long_name: "long", "-é.txt": "accent"},
    )
    lines: list[str] = []
    request = BuildRequest(
        context=context, tags=(image_name,), nocache=True, context_session=context_session
    )
    build_image_sync(docker_api, request, on_line=lines.append)
    assert said(lines, "ok")


@TRANSFERS
def test_buildkit_takes_contexts_no_entry_of_which_fits_a_plain_tar_header(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, context_session: bool
) -> None:
    # Long symlink targets and uids beyond ustar's range need extended headers too; and
    # a context of nothing but such entries goes gzipped.
    context = tmp_path / ("c" * 110)
    make_context(context, BASE + "COPY . /ctx/\nRUN test -L /ctx/link && echo ok\n")
    (context / "link").symlink_to("t" * 120)
    os.chown(context / "Dockerfile", 3_000_000, 3_000_000)
    lines: list[str] = []
    request = BuildRequest(
        context=context, tags=(image_name,), nocache=True, context_session=context_session
    )
    build_image_sync(docker_api, request, on_line=lines.append)
    assert said(lines, "ok")
    long_only = tmp_path / "long"
    long_only.mkdir()
    long_dockerfile = "D" * 120
    (long_only / long_dockerfile).write_text(BASE + "RUN echo gzipped-context-ok\n")
    request = BuildRequest(
        context=long_only,
        tags=(image_name,),
        dockerfile=long_dockerfile,
        context_session=context_session,
    )
    with context_tar(long_only, long_dockerfile) as archive:
        assert archive.read(2) == b"\x1f\x8b"  # gzip
    lines.clear()
    build_image_sync(docker_api, replace(request, nocache=True), on_line=lines.append)
    assert said(lines, "gzipped-context-ok")


def test_a_user_defined_network_or_bridge_is_honoured(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", BASE + "RUN echo nics=$(ls /sys/class/net)\n")
    bridge = BuildRequest(context=context, tags=(image_name,), network_mode="bridge")
    assert bridge.uses_buildkit  # the engine's default network, which BuildKit knows
    lines: list[str] = []
    build_image_sync(docker_api, replace(bridge, nocache=True), on_line=lines.append)
    assert said(lines, "nics=lo")  # no bridge on the test engine: loopback only
    own = BuildRequest(context=context, tags=(image_name,), network_mode="host")
    assert own.uses_buildkit
    assert not replace(own, network_mode="team-net").uses_buildkit  # BuildKit cannot


def test_when_one_stage_fails_the_failure_names_it_not_the_stage_cancelled_beside_it(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        BASE + "FROM buildsvc/busybox:latest AS slow\nRUN echo slow-start; sleep 5; echo end\n"
        "FROM buildsvc/busybox:latest AS fast\nRUN echo boom-output; exit 3\n"
        "FROM buildsvc/busybox:latest\nCOPY --from=slow /bin/sh /a\nCOPY --from=fast /bin/sh /b\n",
    )
    request = BuildRequest(context=context, tags=(image_name,), nocache=True)
    with pytest.raises(BuildFailed) as caught:
        build_image_sync(docker_api, request)
    assert caught.value.step == "[fast 2/2] RUN echo boom-output; exit 3"
    assert caught.value.last_lines == ["boom-output"]


def test_cancel_stops_the_context_upload() -> None:
    handle = StreamCancel()
    sizes: list[int] = []
    body = iter(CancellableStream((b"x" * 10 for _ in range(5)), handle, sizes.append))
    assert next(body) == b"x" * 10
    handle.cancel()
    with pytest.raises(OSError, match="cancelled"):
        next(body)
    assert sizes == []  # never all sent
    whole = CancellableStream([b"ab", b"cde"], StreamCancel(), sizes.append)
    assert b"".join(whole) == b"abcde"
    assert sizes == [5]


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
    assert "to the legacy builder" in lines[0]  # BuildKit cannot limit a build's memory


def test_buildkit_default_network_without_a_bridge_is_loopback_only(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    # The test engine runs with --bridge=none: "default" must not fail every RUN.
    context = make_context(
        tmp_path / "ctx", BASE + 'ARG GREETING\nRUN echo "$GREETING nics=$(ls /sys/class/net)"\n'
    )
    request = BuildRequest(
        context=context,
        tags=(image_name,),
        buildargs={"GREETING": "hi"},
        network_mode="default",
        nocache=True,  # the step must run, not come from an earlier run's cache
    )
    lines: list[str] = []
    build_image_sync(docker_api, request, on_line=lines.append)
    assert "to BuildKit" in lines[0]
    assert said(lines, "hi nics=lo")


@BUILDERS
def test_no_cache_rebuilds_every_step(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, builder: Builder
) -> None:
    context = make_context(tmp_path / "ctx", BASE + f"RUN echo {image_name} > /marker\n")
    request = BuildRequest(context=context, tags=(image_name,), builder=builder)
    build_image_sync(docker_api, request)
    cached: list[str] = []
    build_image_sync(docker_api, request, on_line=cached.append)
    fresh: list[str] = []
    build_image_sync(docker_api, replace(request, nocache=True), on_line=fresh.append)
    hit = "Using cache" if builder == "legacy" else " CACHED"
    assert any(hit in line for line in cached)
    if builder == "legacy":
        assert not any(hit in line for line in fresh)
    else:  # only the base image (FROM) may still count as cached
        assert not step_cached(fresh, "[2/2] RUN echo")
        assert step_cached(cached, "[2/2] RUN echo")


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


@BUILDERS
def test_failing_step_names_step_with_last_lines(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, builder: Builder
) -> None:
    context = make_context(
        tmp_path / "ctx",
        BASE + "RUN echo first step ok\nRUN echo about to fail && exit 3\nRUN echo never\n",
    )
    request = BuildRequest(context=context, tags=(image_name,), builder=builder, nocache=True)
    with pytest.raises(BuildFailed) as caught:
        build_image_sync(docker_api, request)
    error = caught.value
    assert error.code == "BUILD_FAILED"
    if builder == "legacy":
        assert error.step == "Step 3/4 : RUN echo about to fail && exit 3"
        assert "returned a non-zero code: 3" in str(error.detail)
    else:
        assert error.step == "[3/4] RUN echo about to fail && exit 3"
        assert "exit code: 3" in str(error.detail)
    assert "about to fail" in error.last_lines
    assert "first step ok" not in error.last_lines  # the tail is the failing step's own
    assert error.step in str(error.detail)
    assert not docker_api.containers(
        all=True, filters={"ancestor": "buildsvc/busybox:latest", "status": "exited"}
    )


@BUILDERS
def test_dockerfile_syntax_error_is_build_failed(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, builder: Builder
) -> None:
    context = make_context(tmp_path / "ctx", BASE + "NOTANINSTRUCTION x\n")
    request = BuildRequest(context=context, tags=(image_name,), builder=builder)
    with pytest.raises(BuildFailed, match=r"(?i)unknown instruction") as caught:
        build_image_sync(docker_api, request)
    assert "failed to solve" not in str(caught.value.detail)  # BuildKit's noise is cut


@BUILDERS
async def test_cancel_stops_running_step_at_once(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, builder: Builder
) -> None:
    step = f"echo sleeping-now && sleep 30 && echo {image_name}"
    context = make_context(tmp_path / "ctx", BASE + f"RUN {step}\n")
    before = {c["Id"] for c in docker_api.containers(all=True)}
    handle = StreamCancel()
    cancelled_at: list[float] = []

    def on_line(line: str) -> None:
        if said([line], "sleeping-now"):
            cancelled_at.append(time.monotonic())
            handle.cancel()

    request = BuildRequest(context=context, tags=(image_name,), nocache=True, builder=builder)
    with pytest.raises(BuildCancelled):
        await build_image(docker_api, request, on_line=on_line, cancel=handle)
    assert time.monotonic() - cancelled_at[0] < 2
    await assert_step_stopped(docker_api, before, step)


@BUILDERS
async def test_cancelling_the_task_cancels_the_build(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path, builder: Builder
) -> None:
    step = f"echo sleeping-now && sleep 30 && echo {image_name}"
    context = make_context(tmp_path / "ctx", BASE + f"RUN {step}\n")
    before = {c["Id"] for c in docker_api.containers(all=True)}
    started = asyncio.Event()

    def on_line(line: str) -> None:
        if said([line], "sleeping-now"):
            started.set()

    request = BuildRequest(context=context, tags=(image_name,), nocache=True, builder=builder)
    task = asyncio.create_task(build_image(docker_api, request, on_line=on_line))
    await asyncio.wait_for(started.wait(), 30)
    assert running_steps(step)
    begun = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - begun < 2
    await assert_step_stopped(docker_api, before, step)


async def assert_step_stopped(api: docker.APIClient, before: set[str], step: str) -> None:
    # The engine stops the step (and removes its container) right after the cancel.
    left: set[str] = set()
    for _ in range(20):
        left = {c["Id"] for c in api.containers(all=True)} - before
        if not left and not running_steps(step):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"left behind: containers {left}, processes {running_steps(step)}")


def test_engine_unreachable_is_docker_unavailable(tmp_path: Path, unused_tcp_port: int) -> None:
    # TCP, not a missing unix socket: docker-py leaks the socket of a failed unix connect.
    api = docker.APIClient(base_url=f"tcp://127.0.0.1:{unused_tcp_port}", version="1.41")
    context = make_context(tmp_path / "ctx", BASE)
    with pytest.raises(DockerUnavailable) as caught:
        build_image_sync(api, BuildRequest(context=context, tags=("x:1",)))
    assert caught.value.transient
