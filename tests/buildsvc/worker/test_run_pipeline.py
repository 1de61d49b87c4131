"""``run_build`` end to end in process: forgesim → git fetch → docker build → registry."""

from __future__ import annotations

import json

import pytest

from buildsvc.builds.states import BuildStatus
from buildsvc.queue import RetryLater
from buildsvc.store.models import utcnow
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.common.registry_http import RegistryImage, registry_image

pytestmark = pytest.mark.e2e


async def test_builds_pushes_and_records_everything(env: RunEnv) -> None:
    sha = env.push(HELLO)
    tags = [f"{env.image}:latest", f"{env.image}:{sha[:7]}"]
    build_id = await env.add_build(sha, tags=tags, build_args={"GREETING": "Hi"})

    assert await env.run(build_id) == "succeeded"

    build = await env.build(build_id)
    assert build.status == BuildStatus.SUCCEEDED
    assert str(build.digest).startswith("sha256:")
    assert build.worker_id == env.deps.worker_id
    assert build.heartbeat_at is None  # a finished build has no heartbeat to watch
    assert build.queued_at <= build.fetching_at <= build.building_at  # type: ignore[operator]
    assert build.building_at <= build.pushing_at <= build.finished_at  # type: ignore[operator]
    for tag in tags:
        assert registry_image(env.services, tag).digest == build.digest
    manifest = registry_image(env.services, tags[0]).manifest
    layers = sum(layer["size"] for layer in manifest["layers"])
    assert build.image_size == manifest["config"]["size"] + layers  # what docker pull fetches
    log = await env.log(build_id)
    assert [seq for seq, _ in log] == list(range(1, len(log) + 1))
    text = "\n".join(line for _, line in log)
    assert f"at {sha}" in text
    assert "to BuildKit" in text
    assert "[1/4] FROM docker.io/buildsvc/busybox:latest" in text
    assert "org.opencontainers.image.revision" in text
    assert f"Build succeeded: {tags[0]}@{build.digest}" in text
    assert env.token not in text


LABELLED = "FROM buildsvc/busybox:latest\nCOPY . /ctx/\nLABEL team=core\nRUN ls -a /ctx\n"


async def build_labelled(env: RunEnv) -> tuple[str, str, RegistryImage]:
    """Build LABELLED; (commit, log text, the image as the registry has it)."""
    sha = env.push({"Dockerfile": LABELLED, "hello.txt": "hi"})
    build_id = await env.add_build(sha)
    assert await env.run(build_id) == "succeeded"
    text = "\n".join(line for _, line in await env.log(build_id))
    assert "hello.txt" in text  # the context is the checkout, nothing added
    image = registry_image(env.services, f"{env.image}:latest")
    assert image.digest == (await env.build(build_id)).digest
    assert image.labels["team"] == "core"  # the Dockerfile's own labels stay
    assert image.labels["org.opencontainers.image.revision"] == sha
    assert image.labels["org.opencontainers.image.source"] == env.forge.git_url("acme/app")[:-4]
    assert image.labels["org.opencontainers.image.created"].endswith("Z")
    return sha, text, image


async def test_buildkit_records_the_labels_in_the_build(env: RunEnv) -> None:
    sha, text, image = await build_labelled(env)

    assert "[3/3] RUN ls -a /ctx" in text  # the Dockerfile's steps, no label step
    assert f"org.opencontainers.image.revision={sha}" in text
    local = env.deps.docker.inspect_image(f"{env.image}:latest")
    assert local["Config"]["Labels"] == image.labels  # pushed as built: no relabelling
    assert image.config["rootfs"]["diff_ids"] == local["RootFS"]["Layers"]


async def test_legacy_builds_get_their_labels_in_the_registry(env: RunEnv) -> None:
    env.deps.settings = env.settings.model_copy(update={"build_builder": "legacy"})

    _, text, image = await build_labelled(env)

    assert "to the legacy builder" in text
    assert "Step 4/4 : RUN ls -a /ctx" in text  # the Dockerfile's steps only
    # Same layers and history as the engine's image: only the config changed.
    local = env.deps.docker.inspect_image(f"{env.image}:latest")
    assert image.config["rootfs"] == {"type": "layers", "diff_ids": local["RootFS"]["Layers"]}
    assert "org.opencontainers.image.revision" not in (local["Config"]["Labels"] or {})


async def test_a_finished_build_is_left_alone(env: RunEnv) -> None:
    sha = env.push(HELLO)
    build_id = await env.add_build(sha, status="succeeded", digest="sha256:" + "a" * 64)

    assert await env.run(build_id) == "skipped: the build is already succeeded"
    assert (await env.build(build_id)).digest == "sha256:" + "a" * 64
    assert await env.log(build_id) == []


async def test_a_build_claimed_by_a_live_worker_is_left_alone(env: RunEnv) -> None:
    build_id = await env.add_build(
        "0" * 40, status="building", worker_id="elsewhere:1:abc", heartbeat_at=utcnow()
    )

    result = await env.run(build_id)

    assert result == "skipped: the build is building on worker elsewhere:1:abc"
    build = await env.build(build_id)
    assert (build.status, build.worker_id) == ("building", "elsewhere:1:abc")


async def test_an_older_queued_build_of_the_ref_is_superseded(env: RunEnv) -> None:
    older = await env.add_build("1" * 40)
    newer = await env.add_build("2" * 40)

    assert await env.run(older) == "skipped: a newer build of the same ref is queued"

    assert (await env.build(older)).status == BuildStatus.SUPERSEDED
    assert (await env.build(newer)).status == BuildStatus.QUEUED


async def test_a_build_waits_while_its_ref_builds_elsewhere(env: RunEnv) -> None:
    await env.add_build("1" * 40, status="building", worker_id="w", heartbeat_at=utcnow())
    waiting = await env.add_build("2" * 40)
    other_ref = await env.add_build("3" * 40, ref="refs/heads/dev", status="succeeded")

    with pytest.raises(RetryLater):
        await env.run(waiting)

    assert (await env.build(waiting)).status == BuildStatus.QUEUED
    assert (await env.build(other_ref)).status == BuildStatus.SUCCEEDED


async def test_a_burst_of_pushes_waits_for_a_quiet_moment(env: RunEnv) -> None:
    await env.add_build("1" * 40, status="superseded", finished_at=utcnow())
    waiting = await env.add_build("2" * 40)

    with pytest.raises(RetryLater) as deferred:
        await env.run(waiting)

    assert 0 < deferred.value.defer_seconds <= 1
    assert (await env.build(waiting)).status == BuildStatus.QUEUED


async def test_an_unbound_source_fails_the_build(env: RunEnv) -> None:
    from sqlalchemy import delete

    from buildsvc.store.models import SourceBinding

    async with env.sessionmaker.begin() as session:
        await session.execute(delete(SourceBinding))
    build_id = await env.add_build("4" * 40)

    assert await env.run(build_id) == "failed"

    build = await env.build(build_id)
    assert build.error_code == "SOURCE_NOT_BOUND"
    assert "Build failed: SOURCE_NOT_BOUND" in "\n".join(
        line for _, line in await env.log(build_id)
    )


@pytest.mark.parametrize("builder", ["buildkit", "legacy"])
async def test_secret_build_args_leave_the_pushed_image_history(env: RunEnv, builder: str) -> None:
    env.deps.settings = env.settings.model_copy(update={"build_builder": builder})
    secret = "s3cr3t-" + "y" * 12
    dockerfile = "FROM buildsvc/busybox:latest\nARG API_KEY\nARG LEVEL\n"
    dockerfile += "RUN echo ${#API_KEY} $LEVEL\n"
    sha = env.push({"Dockerfile": dockerfile})
    build_id = await env.add_build(
        sha,
        build_args={"API_KEY": secret, "LEVEL": "debug"},
        secret_build_args=["API_KEY"],
        no_cache=True,
    )

    assert await env.run(build_id) == "succeeded"

    build = await env.build(build_id)
    image = registry_image(env.services, f"{env.image}:latest")
    assert image.digest == build.digest
    commands = [entry.get("created_by", "") for entry in image.config["history"]]
    assert secret not in json.dumps(image.config)
    assert any("API_KEY=****" in command and "LEVEL=debug" in command for command in commands)
    assert image.labels["org.opencontainers.image.revision"] == sha
    text = "\n".join(line for _, line in await env.log(build_id))
    assert "masked wherever the image's history recorded them" in text
