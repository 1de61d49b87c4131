"""A build by the engine's BuildKit: ``POST /build?version=2``, the context served
through a BuildKit session (``buildkit_session``), as ``docker build`` sends it; where
the engine cannot hold one, a context tar streamed as it is made.

docker-py's ``build()`` cannot ask for BuildKit, so the request goes through the same
client's HTTP session (its response hooks, hence ``StreamCancel``, still apply). The
stream carries BuildKit's progress as ``moby.buildkit.trace`` items (``buildkit_trace``),
the image id as ``moby.image.id`` and a failure as an ``error`` item.

BuildKit pulls with the registry login only through a session that serves it, which
ours does not; the base images it needs are pulled first (``base_images``), with the
login, and an image that slipped through (named in a way only BuildKit resolves) is
pulled when BuildKit fails on it, and the build tried again. So are the images of
``request.cache_from`` (``registry_cache``); every build exports its cache inline for
the next one.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import docker
import requests
from docker.utils.json_stream import json_stream
from google.protobuf.message import DecodeError

from buildsvc.worker.base_images import PullFailures, external_images, pull_missing
from buildsvc.worker.build_request import BuildRequest
from buildsvc.worker.buildkit_session import FileSyncSession, context_session
from buildsvc.worker.buildkit_trace import TRACE_ID, Progress
from buildsvc.worker.errors import BuildCancelled, BuildFailed
from buildsvc.worker.registry_cache import INLINE_CACHE_ARG, hit_line, pull_cache_sources
from buildsvc.worker.streaming import CancellableStream, StreamCancel

__all__ = [
    "base_image_failures",
    "build_through_session",
    "build_with_buildkit",
    "run_attempts",
]

# Prefixes BuildKit puts before what went wrong; the rest reads well on its own.
_SOLVE_PREFIXES = (
    "failed to solve with frontend dockerfile.v0: ",
    "failed to solve: ",
    "failed to create LLB definition: ",
)
# The image in the name of the step that needed it: "[internal] load metadata for X",
# "[2/3] FROM X", "FROM X".
_NEEDED_IMAGE = re.compile(r"(?:load metadata for |FROM )(\S+)")
MAX_PULL_ROUNDS = 5


def buildkit_network(api: docker.APIClient, mode: str | None, has_bridge: bool | None) -> str:
    """The network mode to ask BuildKit for, given the configured one.

    ``default`` (also spelt ``bridge``) is the engine's bridge network. An engine
    started without one (``dockerd --bridge=none``) gives legacy-builder containers only
    a loopback interface, while BuildKit fails every RUN with "network bridge not
    found"; ``none`` is that same isolation. ``has_bridge`` is what the worker found
    out once (``WorkerDeps.engine_has_bridge``); None: ask the engine now.
    """
    if mode not in (None, "default", "bridge"):
        return str(mode)
    if has_bridge is None:
        has_bridge = bool(api.networks(names=["bridge"]))
    return "default" if has_bridge else "none"


def _params(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    cache_from: tuple[str, ...],
    session: FileSyncSession | None,
) -> dict[str, Any]:
    through_session = {} if session is None else {"remote": "client-session", "session": session.id}
    return {
        **through_session,
        "version": "2",  # BuildKit
        "t": list(request.tags),  # every tag in the one build
        "dockerfile": dockerfile,
        "buildargs": json.dumps({**request.buildargs, **INLINE_CACHE_ARG}),
        "cachefrom": json.dumps(list(cache_from)),
        "labels": json.dumps(dict(request.labels)),  # image metadata, no build step
        "nocache": "1" if request.nocache else "0",
        "networkmode": buildkit_network(api, request.network_mode, request.engine_has_bridge),
        "pull": "0",  # base images are pulled beforehand
    }


def _failure(error: str, progress: Progress) -> BuildFailed:
    message = error.strip()
    for prefix in _SOLVE_PREFIXES:
        message = message.removeprefix(prefix)
    return BuildFailed(message, step=progress.step, last_lines=progress.tail)


def _image_id(item: dict[str, Any]) -> str | None:
    aux = item.get("aux")
    if item.get("id") == "moby.image.id" and isinstance(aux, dict) and "ID" in aux:
        return str(aux["ID"])
    return None


def _lines_out(text: str, on_line: Callable[[str], None]) -> None:
    for line in text.splitlines():
        if line.strip():
            on_line(line.rstrip())


def _consume(
    stream: Iterator[dict[str, Any]],
    progress: Progress,
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> str:
    """The image id the build stream ends with."""
    image_id: str | None = None
    for item in stream:
        if cancel.cancelled:
            raise BuildCancelled()
        aux = item.get("aux")
        if item.get("id") == TRACE_ID and isinstance(aux, str):
            # An unreadable progress message costs log lines, not the build.
            with contextlib.suppress(DecodeError, ValueError):
                progress.feed_aux(aux)
        elif "error" in item:
            progress.flush()
            raise _failure(str(item["error"]), progress)
        elif (found := _image_id(item)) is not None:
            image_id = found
        elif "stream" in item:  # "Successfully tagged …"
            _lines_out(str(item["stream"]), on_line)
    progress.flush()
    if cancel.cancelled:
        raise BuildCancelled()
    if image_id is None:
        raise BuildFailed("the engine reported no image id", step=progress.step, last_lines=[])
    return image_id


def build_through_session(
    api: docker.APIClient,
    request: BuildRequest,
    cache_from: tuple[str, ...],
    session: FileSyncSession,
    filename: str,
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> tuple[str, int]:
    """``POST /build`` of ``request``, its context served by ``session``, read to its
    end: the image id and the steps cached; the files the engine fetched, said."""
    if cancel.cancelled:
        raise BuildCancelled()
    params = _params(api, request, filename, cache_from, session)
    built = read_build(_post(api, params, b"", {}), on_line, cancel)
    on_line(sent_line(session))
    return built


def _post(
    api: docker.APIClient, params: dict[str, Any], body: Any, headers: dict[str, str]
) -> requests.Response:
    response: requests.Response = api.post(
        f"{api.base_url}/v{api.api_version}/build",
        params=params,
        data=body,
        headers=headers,
        stream=True,
        timeout=None,  # the build's own deadline applies, not a read timeout
    )
    return response


def sent_line(session: FileSyncSession) -> str:
    return (
        f"BuildKit fetched {session.files_sent} new or changed files"
        f" ({session.bytes_sent / 1024:.1f} kB) of the build context"
    )


def _build_once(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    context: Callable[[], CancellableStream],
    cache_from: tuple[str, ...],
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> tuple[str, int]:
    """The image id, and how many Dockerfile steps came from the cache."""
    if cancel.cancelled:
        raise BuildCancelled()
    serving = (
        context_session(api, request.context, dockerfile, on_line)
        if request.context_session
        else contextlib.nullcontext(None)
    )
    with serving as through:
        if through is not None:
            return build_through_session(api, request, cache_from, *through, on_line, cancel)
        params = _params(api, request, dockerfile, cache_from, None)
        response = _post(api, params, context(), {"Content-Type": "application/x-tar"})
        return read_build(response, on_line, cancel)


def read_build(
    response: requests.Response, on_line: Callable[[str], None], cancel: StreamCancel
) -> tuple[str, int]:
    """The image id the build stream ends with, and how many steps were cached."""
    try:
        try:
            response.raise_for_status()
        except requests.HTTPError as exc:
            docker.errors.create_api_error_from_http_exception(exc)  # raises APIError
        chunks = response.iter_content(chunk_size=None)
        progress = Progress(on_line)
        image_id = _consume(json_stream(chunks), progress, on_line, cancel)
        return image_id, progress.cached_steps
    finally:
        response.close()


def _base_images(request: BuildRequest, dockerfile: str) -> list[str]:
    try:
        return external_images(request.context / dockerfile, request.buildargs)
    except Exception:  # a Dockerfile's own errors are BuildKit's to report
        return []


def _needed_image(failure: BuildFailed) -> str | None:
    """The image BuildKit failed to get, if that is the failure: the step that fails
    names it. Without a session BuildKit cannot pull at all ("no active sessions");
    with one it pulls without the registry's login, which a private registry refuses."""
    found = _NEEDED_IMAGE.search(failure.step or "")
    return found.group(1) if found else None


def base_image_failures(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> PullFailures:
    """Pull the base images ``dockerfile`` names that the engine lacks (with the
    registry login); those that could not be pulled, with why."""
    failed = PullFailures()
    pull_missing(
        api,
        _base_images(request, dockerfile),
        credentials=request.registry_credentials,
        on_line=on_line,
        cancel=cancel,
        failures=failed,
    )
    return failed


def run_attempts(
    api: docker.APIClient,
    attempt: Callable[[], tuple[str, int]],
    *,
    request: BuildRequest,
    cache_from: tuple[str, ...],
    failed: Callable[[], PullFailures],
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> str:
    """The image id of the first ``attempt`` (image id, cached steps) that succeeds:
    after one that failed on an image BuildKit could not get, that image is pulled
    with the registry login and the build tried again. ``failed()``: the base images
    whose pull failed before, asked for only then."""
    asked: set[str] = set()
    for _ in range(MAX_PULL_ROUNDS):
        try:
            image_id, cached = attempt()
        except BuildFailed as failure:
            image = _needed_image(failure)
            if image is None or image in asked:  # pulled once already: not what is wrong
                raise
            asked.add(image)
            earlier = failed().get(image)
            if earlier is not None:
                raise earlier from failure  # why the image is not there: the pull's error
            on_line(f"BuildKit needs {image}, which the engine does not have: pulling it")
            pull_missing(
                api,
                [image],
                credentials=request.registry_credentials,
                on_line=on_line,
                cancel=cancel,
            )
            continue
        for ref in cache_from:
            on_line(hit_line(ref, cached))
        return image_id
    raise BuildFailed(
        f"base images still missing after {MAX_PULL_ROUNDS} pulls", step=None, last_lines=[]
    )


def build_with_buildkit(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    context: Callable[[], CancellableStream],
    *,
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> str:
    """Build ``request`` (its context streamed by ``context()``, called once per
    attempt); the image id (blocking)."""
    failed = base_image_failures(api, request, dockerfile, on_line, cancel)
    cache_from = pull_cache_sources(
        api,
        request.cache_from,
        credentials=request.registry_credentials,
        on_line=on_line,
        cancel=cancel,
    )
    return run_attempts(
        api,
        lambda: _build_once(api, request, dockerfile, context, cache_from, on_line, cancel),
        request=request,
        cache_from=cache_from,
        failed=lambda: failed,
        on_line=on_line,
        cancel=cancel,
    )
