"""Old built images leave the worker's engine; recent ones and other names stay; a
round's parts go on without each other."""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import docker
import pytest

from buildsvc.config import Settings
from buildsvc.worker import image_gc
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.docker_build import BuildRequest, build_image_sync
from buildsvc.worker.image_gc import collect_once, prune_build_cache, remove_old_images
from tests.buildsvc.worker.helpers import untag_all
from tests.common.build_steps import step_cached
from tests.common.services import BASE_IMAGE, Services

pytestmark = pytest.mark.e2e


def tags_of(api: docker.APIClient, name: str) -> list[str]:
    return [tag for image in api.images(name=name) for tag in image.get("RepoTags") or []]


def test_images_under_the_prefix_older_than_the_cutoff_are_untagged(
    docker_api: docker.APIClient, services: Services
) -> None:
    pushed = f"{services.registry}/buildsvc-test/gc-{secrets.token_hex(4)}"
    elsewhere = f"buildsvc-test/gc-keep-{secrets.token_hex(4)}"
    docker_api.tag(BASE_IMAGE, pushed, "1")
    docker_api.tag(BASE_IMAGE, pushed, "2")
    docker_api.tag(BASE_IMAGE, elsewhere, "1")
    try:
        created = docker_api.inspect_image(BASE_IMAGE)["Created"]
        assert created  # the base image is older than now: old enough below

        # A cutoff before the image was made: too young, kept.
        epoch = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
        assert remove_old_images(docker_api, pushed, epoch) == []
        assert sorted(tags_of(docker_api, pushed)) == [f"{pushed}:1", f"{pushed}:2"]

        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        removed = remove_old_images(docker_api, pushed, later)

        assert sorted(removed) == [f"{pushed}:1", f"{pushed}:2"]
        assert tags_of(docker_api, pushed) == []
        assert tags_of(docker_api, elsewhere) == [f"{elsewhere}:1"]  # not ours: kept
        assert docker_api.inspect_image(BASE_IMAGE)["Id"]  # still tagged as itself
    finally:
        for tag in tags_of(docker_api, pushed) + tags_of(docker_api, elsewhere):
            docker_api.remove_image(tag)


def test_an_image_a_container_uses_is_kept(
    docker_api: docker.APIClient, services: Services
) -> None:
    pushed = f"{services.registry}/buildsvc-test/gc-used-{secrets.token_hex(4)}"
    docker_api.tag(BASE_IMAGE, pushed, "1")
    image = docker_api.inspect_image(BASE_IMAGE)["Id"]
    own = docker_api.build(
        fileobj=io.BytesIO(f"FROM {BASE_IMAGE}\nLABEL gc=used\n".encode()),
        tag=f"{pushed}:only",
        rm=True,
        decode=True,
    )
    for _ in own:
        pass
    container = docker_api.create_container(f"{pushed}:only", command=["true"])
    try:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        removed = remove_old_images(docker_api, pushed, later)
        # The tag shared with the base image goes; the image a container uses stays.
        assert f"{pushed}:1" in removed
        assert f"{pushed}:only" not in removed
        assert tags_of(docker_api, pushed) == [f"{pushed}:only"]
        assert docker_api.inspect_image(BASE_IMAGE)["Id"] == image
    finally:
        docker_api.remove_container(container["Id"], force=True)
        for tag in tags_of(docker_api, pushed):
            docker_api.remove_image(tag, force=True)


def test_build_cache_unused_for_the_retention_is_pruned(
    docker_api: docker.APIClient, image_name: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN echo {secrets.token_hex(8)} > /marker\n"
    )
    request = BuildRequest(context=tmp_path, tags=(image_name,))
    build_image_sync(docker_api, request)
    untag_all(docker_api, image_name)  # the image GC went first: only the cache is left

    prune_build_cache(docker_api, dt.timedelta(hours=24))
    kept: list[str] = []
    build_image_sync(docker_api, request, on_line=kept.append)
    assert step_cached(kept, "[2/2] RUN")  # young cache stays
    untag_all(docker_api, image_name)

    time.sleep(1.5)  # a retention of one second has passed
    prune_build_cache(docker_api, dt.timedelta(seconds=1))
    rebuilt: list[str] = []
    build_image_sync(docker_api, request, on_line=rebuilt.append)
    assert not step_cached(rebuilt, "[2/2] RUN")
    run = next(line.split()[0] for line in rebuilt if "[2/2] RUN" in line)
    assert any(line.startswith(f"{run} DONE") for line in rebuilt)


def test_a_round_deletes_unused_trees_though_the_engine_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def engine_fails(*args: object) -> list[str]:
        raise docker.errors.APIError("500 Server Error: the engine is out of disk")

    monkeypatch.setattr(image_gc, "remove_old_images", engine_fails)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # no one else's sessions
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        worker_image_retention_hours=24,
        worker_source_retention_hours=24,
    )
    nobody = cast(Any, None)  # a round needs no database
    deps = WorkerDeps(
        settings=settings,
        engine=nobody,
        sessionmaker=nobody,
        access=nobody,
        docker=nobody,
        redis=None,
        worker_id="gc-test",
        workdir=tmp_path / "work",
    )
    old = deps.sources / "old"
    old.mkdir(parents=True)
    (deps.sources / "old.lock").touch()
    week_ago = time.time() - 7 * 86400
    os.utime(deps.sources / "old.lock", (week_ago, week_ago))

    collect_once(deps)

    assert not old.exists()
    assert "removing old images failed" in caplog.text
    assert "out of disk" in caplog.text
