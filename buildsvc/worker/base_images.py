"""The images a Dockerfile builds on, pulled into the engine before BuildKit runs.

BuildKit inside the engine fetches a missing base image through the client's session
(its registry auth provider); a client without one gets "no active sessions" for every
image that is not already local, public ones included. The legacy builder pulls what is
missing by itself. So before a BuildKit build the worker pulls, through the engine's
ordinary pull API, each image the Dockerfile names that the engine lacks: ``FROM``
images (build args substituted, by dockerfile-parse) and ``COPY --from=image``. BuildKit
then finds them in the engine's image store. Images on the registry the worker pushes to
are pulled with its credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import docker
from docker.auth import resolve_repository_name
from docker.utils import parse_repository_tag
from dockerfile_parse import DockerfileParser

from buildsvc.worker.errors import BuildCancelled, BuildFailed
from buildsvc.worker.streaming import StreamCancel

__all__ = ["PullFailures", "external_images", "is_reference", "pull_missing"]

_AS = re.compile(r"\s+as\s+(\S+)\s*$", re.IGNORECASE)
_COPY_FROM = re.compile(r"(?:^|\s)--from=(\S+)")
# The image reference grammar (distribution/reference), without IPv6 hosts.
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?"
)


class PullFailures(dict[str, BuildFailed]):
    """Images whose pull failed, with why: kept for when BuildKit turns out to need one."""


def is_reference(image: str) -> bool:
    """Whether ``image`` is a well-formed image reference (``name[:tag][@digest]``)."""
    return _REFERENCE.fullmatch(image) is not None


def external_images(dockerfile: Path, build_args: Mapping[str, str]) -> list[str]:
    """Images ``dockerfile`` builds on, in order, without stages and ``scratch``."""
    with dockerfile.open("rb") as content:
        parsed = DockerfileParser(fileobj=content, build_args=dict(build_args))
        instructions: list[dict[str, Any]] = parsed.structure
        parents: list[str] = parsed.parent_images  # FROM values, args substituted
    stages: set[str] = set()
    found: list[str] = []

    def add(image: str) -> None:
        image = image.strip("'\"")
        name = image.lower()
        if name in stages or name == "scratch" or name.isdigit():
            return  # a stage (by name or index), or nothing
        if is_reference(image) and image not in found:  # not: args left to BuildKit
            found.append(image)

    froms = iter(parents)
    for instruction in instructions:
        if instruction["instruction"] == "FROM":
            add(next(froms, ""))
            alias = _AS.search(instruction["value"])
            if alias:
                stages.add(alias.group(1).lower())
        elif instruction["instruction"] == "COPY":
            source = _COPY_FROM.search(instruction["value"])
            if source:
                add(source.group(1))
    return [image for image in found if image]


def _present(api: docker.APIClient, image: str) -> bool:
    try:
        api.inspect_image(image)
    except docker.errors.APIError:  # not found, or a name the engine cannot parse
        return False
    return True


def pull_missing(
    api: docker.APIClient,
    images: Iterable[str],
    *,
    credentials: Mapping[str, Mapping[str, str]],
    on_line: Callable[[str], None],
    cancel: StreamCancel,
    failures: PullFailures | None = None,
    kind: str = "base image",
) -> None:
    """Pull each of ``images`` the engine lacks; ``credentials`` by registry host.

    ``kind`` names the images in log lines and errors ("base image", "cache image").

    A pull the registry refuses (no such image, denied) raises ``BuildFailed`` naming
    the image, as the legacy builder's own pull would; with ``failures`` given it is
    recorded there instead (the image may be a misreading of the Dockerfile).
    """
    for image in images:
        if cancel.cancelled:
            raise BuildCancelled()
        try:
            if _present(api, image):
                continue
            _pull(api, image, credentials, on_line, kind)
        except BuildFailed as failed:
            if failures is None:
                raise
            failures[image] = failed
            on_line(f"{kind.capitalize()} {image} not pulled: {failed.error}")


def _pull(
    api: docker.APIClient,
    image: str,
    credentials: Mapping[str, Mapping[str, str]],
    on_line: Callable[[str], None],
    kind: str,
) -> None:
    repository, tag = parse_repository_tag(image)  # the tag is a digest after "@"
    registry, _ = resolve_repository_name(repository)
    on_line(f"Pulling {kind} {image}")
    try:
        stream = api.pull(
            repository,
            tag=tag or "latest",
            stream=True,
            decode=True,
            auth_config=dict(credentials[registry]) if registry in credentials else None,
        )
        for item in stream:
            if "error" in item:
                raise _pull_failed(image, str(item["error"]), kind)
            if item.get("status", "").startswith(("Digest:", "Status:")):
                on_line(str(item["status"]))
    except docker.errors.APIError as exc:
        raise _pull_failed(image, str(exc.explanation or exc), kind) from exc


def _pull_failed(image: str, error: str, kind: str) -> BuildFailed:
    return BuildFailed(
        f"{kind} {image} could not be pulled: {error.strip()}",
        step=f"FROM {image}",
        last_lines=[],
    )
