"""Base images a BuildKit build needs are pulled first (BuildKit has no session to pull)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from buildsvc.worker.base_images import PullFailures, external_images, pull_missing
from buildsvc.worker.docker_build import BuildRequest, build_image_sync
from buildsvc.worker.errors import BuildFailed
from buildsvc.worker.streaming import StreamCancel
from tests.common.build_steps import said
from tests.common.services import BASE_IMAGE, Services


def images_of(tmp_path: Path, text: str, **build_args: str) -> list[str]:
    (tmp_path / "Dockerfile").write_text(text)
    return external_images(tmp_path / "Dockerfile", build_args)


def test_from_images_with_args_stages_and_copy_from(tmp_path: Path) -> None:
    dockerfile = (
        "ARG BASE=busybox:1\nARG GO=1.22\n"
        "FROM --platform=linux/amd64 ${BASE} AS build\nRUN make\n"
        "FROM golang:${GO}-bookworm as tools\n"
        "COPY --from=build /out /out\nCOPY --from=0 /a /a\n"
        "COPY --from=nginx:1.27 /etc/nginx /etc/nginx\n"
        "FROM scratch\nCOPY --from=tools /go /go\n"
        "FROM build\n"
    )
    assert images_of(tmp_path, dockerfile) == ["busybox:1", "golang:1.22-bookworm", "nginx:1.27"]
    assert images_of(tmp_path, dockerfile, BASE="127.0.0.1:5000/team/base:2")[0] == (
        "127.0.0.1:5000/team/base:2"
    )


def test_an_arg_without_a_value_is_left_to_buildkit(tmp_path: Path) -> None:
    assert images_of(tmp_path, "ARG BASE\nFROM ${BASE}\n") == []


def with_login(services: Services, context: Path, image_name: str) -> BuildRequest:
    """A fresh build of ``context`` that may pull from the registry with its login."""
    login = {"username": services.registry_username, "password": services.registry_password}
    return BuildRequest(
        context=context,
        tags=(image_name,),
        nocache=True,
        registry_credentials={services.registry: login},
    )


@pytest.fixture
def private_base(docker_api: docker.APIClient, services: Services, registry_repo: str) -> str:
    """A base image that exists only in the registry (behind its login)."""
    docker_api.tag(BASE_IMAGE, registry_repo, "base")
    auth = {"username": services.registry_username, "password": services.registry_password}
    for item in docker_api.push(registry_repo, "base", stream=True, decode=True, auth_config=auth):
        assert "error" not in item, item
    docker_api.remove_image(f"{registry_repo}:base")
    return f"{registry_repo}:base"


@pytest.mark.e2e
def test_a_base_image_only_in_the_registry_is_pulled_with_its_login(
    docker_api: docker.APIClient,
    services: Services,
    private_base: str,
    image_name: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {private_base}\nRUN echo on-private-base\n")
    request = with_login(services, tmp_path, image_name)
    lines: list[str] = []
    build_image_sync(docker_api, request, on_line=lines.append)
    assert f"Pulling base image {private_base}" in lines
    assert said(lines, "on-private-base")
    assert services.registry_password not in "\n".join(lines)


@pytest.mark.e2e
def test_a_base_image_that_cannot_be_pulled_fails_the_build_naming_it(
    docker_api: docker.APIClient,
    services: Services,
    private_base: str,
    image_name: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {private_base}\nRUN true\n")
    with pytest.raises(BuildFailed) as caught:  # no login for the registry
        build_image_sync(docker_api, BuildRequest(context=tmp_path, tags=(image_name,)))
    assert caught.value.step == f"FROM {private_base}"
    assert "could not be pulled" in str(caught.value.detail)
    # Token auth: an anonymous pull of a private repository is denied.
    assert "denied: requested access to the resource is denied" in str(caught.value.detail)


def test_names_only_buildkit_can_resolve_are_left_to_it(tmp_path: Path) -> None:
    assert images_of(tmp_path, "ARG V\nFROM buildsvc/busybox:${V:-latest}\n") == []
    assert images_of(tmp_path, 'FROM scratch\nCOPY --from="nginx:1.27" /a /a\n') == ["nginx:1.27"]


@pytest.mark.e2e
def test_an_image_buildkit_names_is_pulled_when_it_asks(
    docker_api: docker.APIClient,
    services: Services,
    private_base: str,
    image_name: str,
    tmp_path: Path,
) -> None:
    # dockerfile-parse cannot expand a nested arg; BuildKit names what it lacks.
    registry, rest = private_base.split("/", 1)
    (tmp_path / "Dockerfile").write_text(
        f"ARG REGISTRY={registry}\nARG BASE=${{REGISTRY}}/{rest}\nFROM ${{BASE}}\n"
        "RUN echo nested-base-ok\n"
    )
    request = with_login(services, tmp_path, image_name)
    lines: list[str] = []
    build_image_sync(docker_api, request, on_line=lines.append)
    assert any(line.startswith(f"BuildKit needs {private_base}") for line in lines), lines
    assert said(lines, "nested-base-ok")


@pytest.mark.e2e
def test_a_detected_image_that_cannot_be_pulled_is_noted_not_fatal(
    docker_api: docker.APIClient, services: Services, registry_repo: str
) -> None:
    # The Dockerfile may have been misread (a heredoc's "from x import y"): only
    # BuildKit's own need for the image makes the failed pull the build's failure.
    failures = PullFailures()
    lines: list[str] = []
    missing = f"{registry_repo}:never-pushed"
    pull_missing(
        docker_api,
        [missing],
        credentials={},
        on_line=lines.append,
        cancel=StreamCancel(),
        failures=failures,
    )
    assert list(failures) == [missing]
    assert failures[missing].step == f"FROM {missing}"
    assert any(line.startswith(f"Base image {missing} not pulled") for line in lines)
