"""Build an image with the Docker engine (docker SDK), streaming its log.

Two builders, one request. BuildKit (``buildkit_build``, the default) runs independent
steps in parallel, caches per step without committing a container for each, and
records labels as pure metadata. The legacy builder (docker-py's ``build``, here) is
used when asked for, and whenever a memory limit or a user-defined network is set:
BuildKit inside the engine can do neither, the legacy builder applies them to every
step's container.

The blocking SDK runs in a thread; ``build_image`` forwards each log line to the event
loop in order. Cancelling (``StreamCancel.cancel()`` or cancelling the awaiting task)
stops the context upload or shuts the build's HTTP connection down: the engine stops
the running step at once, and the build ends in ``BuildCancelled``.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import docker
from docker.utils import parse_bytes, parse_repository_tag

from buildsvc.worker.build_context import check_dockerfile, context_stream, resolve_context
from buildsvc.worker.build_request import Builder, BuildRequest, oci_labels
from buildsvc.worker.buildkit_build import build_with_buildkit
from buildsvc.worker.errors import (
    BuildCancelled,
    BuildError,
    BuildFailed,
    DockerfileNotFound,
    DockerUnavailable,
)
from buildsvc.worker.streaming import (
    ENGINE_ERRORS,
    CancellableStream,
    LineCallback,
    StreamCancel,
    run_streaming,
)

__all__ = [
    "ENGINE_ERRORS",
    "BuildRequest",
    "Builder",
    "LineCallback",
    "StreamCancel",
    "build_image",
    "build_image_sync",
    "check_dockerfile",
    "engine_errors",
    "oci_labels",
    "resolve_context",
    "run_streaming",
]

TAIL_LINES = 20


class _Lines:
    """Reassembles log lines: the daemon splits ``Step 1/2 : X`` and its newline."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._partial = ""
        self.step: str | None = None
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def feed(self, text: str) -> None:
        *complete, self._partial = (self._partial + text).split("\n")
        for line in complete:
            self._line(line.rstrip("\r"))

    def flush(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""

    def _line(self, line: str) -> None:
        if line.startswith("Step "):
            # The tail reported on failure is the failing step's own output.
            self.step = line
            self.tail.clear()
        self.tail.append(line)
        self._emit(line)


def _build_kwargs(request: BuildRequest, dockerfile: str) -> dict[str, Any]:
    limits = {}
    if request.memory_limit is not None:
        limits["memory"] = parse_bytes(request.memory_limit)
    return {
        "custom_context": True,
        "dockerfile": dockerfile,
        "tag": request.tags[0] if request.tags else None,
        "buildargs": dict(request.buildargs),
        # The legacy builder adds one step per label: the worker labels in the registry.
        "labels": dict(request.labels),
        "nocache": request.nocache,
        "network_mode": request.network_mode,
        "container_limits": limits,
        "decode": True,
        "rm": True,
        "forcerm": True,  # also remove the container of a failed step
        "pull": False,  # base images are local; nothing can be pulled
    }


def _consume(stream: Iterator[dict[str, Any]], lines: _Lines, cancel: StreamCancel) -> str:
    image_id: str | None = None
    for item in stream:
        if cancel.cancelled:
            raise BuildCancelled()
        if "stream" in item:
            lines.feed(str(item["stream"]))
        elif "error" in item:
            lines.flush()
            error = str(item["error"]).strip()
            if "Cannot locate specified Dockerfile" in error:
                raise DockerfileNotFound(error.rsplit(":", 1)[-1].strip(), detail=error)
            raise BuildFailed(error, step=lines.step, last_lines=lines.tail)
        elif isinstance(item.get("aux"), dict) and "ID" in item["aux"]:
            image_id = str(item["aux"]["ID"])
        elif "status" in item:
            lines.feed(f"{item.get('id', '')} {item['status']}".strip() + "\n")
    lines.flush()
    if cancel.cancelled:
        raise BuildCancelled()
    if image_id is None:
        raise BuildFailed("the engine reported no image id", step=lines.step, last_lines=lines.tail)
    return image_id


def _build_legacy(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    context: CancellableStream,
    lines: _Lines,
    cancel: StreamCancel,
) -> str:
    stream = api.build(fileobj=context, **_build_kwargs(request, dockerfile))
    try:
        image_id = _consume(stream, lines, cancel)
    finally:
        stream.close()
    for extra in request.tags[1:]:
        repository, tag = parse_repository_tag(extra)
        api.tag(image_id, repository, tag or "latest")
    return image_id


def _context(
    request: BuildRequest, dockerfile: str, on_line: Callable[[str], None], cancel: StreamCancel
) -> Callable[[], CancellableStream]:
    """What makes the build context's request body, anew for each attempt: tarred while
    it is sent, so the engine starts on the first files at once."""
    builder = "BuildKit" if request.uses_buildkit else "the legacy builder"

    def sent(size: int) -> None:
        on_line(f"Sent the build context ({size / 1024:.1f} kB) to {builder}")

    return lambda: CancellableStream(
        context_stream(request.context, dockerfile, on_line), cancel, sent
    )


def build_image_sync(
    api: docker.APIClient,
    request: BuildRequest,
    *,
    on_line: Callable[[str], None] = lambda _line: None,
    cancel: StreamCancel | None = None,
) -> str:
    """Build ``request`` and tag it with every tag; return the image id (blocking)."""
    handle = cancel or StreamCancel()
    dockerfile = check_dockerfile(request.context, request.dockerfile, on_line)
    lines = _Lines(on_line)
    context = _context(request, dockerfile, on_line, handle)
    with engine_errors(api, handle, request, lines):
        if request.uses_buildkit:
            return build_with_buildkit(
                api, request, dockerfile, context, on_line=on_line, cancel=handle
            )
        return _build_legacy(api, request, dockerfile, context(), lines, handle)


@contextlib.contextmanager
def engine_errors(
    api: docker.APIClient, handle: StreamCancel, request: BuildRequest, lines: _Lines | None = None
) -> Iterator[None]:
    """Inside: the engine's responses tracked by ``handle`` (so it can cancel them), and
    what goes wrong talking to it raised as the build's errors."""
    try:
        with handle.track(api):
            yield
    except BuildError:
        raise
    except docker.errors.APIError as exc:
        if handle.cancelled:
            raise BuildCancelled() from exc
        raise _api_error(exc, request, lines or _Lines(lambda _line: None)) from exc
    except ENGINE_ERRORS as exc:
        if handle.cancelled:
            raise BuildCancelled() from exc
        raise DockerUnavailable(detail=f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        # A cancelled stream breaks inside urllib3 in arbitrary ways; only then expected.
        if handle.cancelled:
            raise BuildCancelled() from exc
        raise


def _api_error(exc: docker.errors.APIError, request: BuildRequest, lines: _Lines) -> BuildError:
    """What the engine refused: the build's fault (4xx, a bad Dockerfile or option), or
    the engine's (5xx: transient)."""
    message = str(exc.explanation or exc)
    if "Cannot locate specified Dockerfile" in message:
        return DockerfileNotFound(request.dockerfile, detail=message)
    lowered = message.lower()
    if exc.is_client_error() or "dockerfile parse error" in lowered or "not supported" in lowered:
        return BuildFailed(message, step=lines.step, last_lines=lines.tail)
    return DockerUnavailable(detail=message)


async def build_image(
    api: docker.APIClient,
    request: BuildRequest,
    *,
    on_line: LineCallback | None = None,
    cancel: StreamCancel | None = None,
) -> str:
    """Build in a thread, awaiting ``on_line`` for each log line; return the image id.

    Cancelling the awaiting task cancels the build and waits until the thread is done.
    """
    return await run_streaming(
        lambda emit, handle: build_image_sync(api, request, on_line=emit, cancel=handle),
        on_line=on_line,
        cancel=cancel,
    )
