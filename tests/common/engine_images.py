"""Leaving the shared Docker engine as found: a stack or cluster with a registry of its
own (a free port) untags every image named under it when it goes. Without this, each
full run left some 300 images on the engine (one per build), and listing them slowed."""

from __future__ import annotations

import contextlib

import docker
import requests

from tests.common.services import DOCKER_URL


def untag_under(registry: str, docker_url: str = DOCKER_URL) -> int:
    """Remove every local tag and digest name under ``registry/`` (a registry only this
    caller used); the number removed. An image loses its last name and goes with it. A
    clean-up: an engine gone already (a test stopped it) is no failure of the test."""
    prefix = f"{registry}/"
    removed = 0
    with contextlib.suppress(docker.errors.DockerException, requests.ConnectionError):
        api = docker.APIClient(base_url=docker_url, version="auto", timeout=60)
        try:
            for image in api.images():
                # A tag, or a digest (an image pulled by digest, such as a cache image)
                names = (image.get("RepoTags") or []) + (image.get("RepoDigests") or [])
                for tag in names:
                    if tag.startswith(prefix):
                        with contextlib.suppress(docker.errors.APIError):  # gone, in use
                            api.remove_image(tag, force=True)
                            removed += 1
        finally:
            api.close()
    return removed
