"""Build an image with the Docker engine (docker SDK), streaming its log.

Two builders, one request. BuildKit (``POST /build?version=2``, the default) runs
independent steps in parallel, caches per step without committing a container for each,
and records labels as pure metadata; its progress arrives as protobuf trace messages
(``buildkit_trace``). The legacy builder (docker-py's ``build``) is used when asked for
and whenever a memory limit is set: BuildKit inside the engine cannot cap a build's
memory, the legacy builder applies the limit to every step's container.

The blocking SDK runs in a thread; ``build_image`` forwards each log line to the event
loop in order. Cancelling (``StreamCancel.cancel()`` or cancelling the awaiting task)
shuts the build's HTTP connection down: the daemon stops the running step (and removes
its container) at once, and the build ends in ``BuildCancelled``.

The context is tarred here, honouring ``.dockerignore`` with docker-py's own rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import tarfile
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import docker
import requests
import urllib3
from docker.utils import parse_bytes, parse_repository_tag
from docker.utils.build import exclude_paths
from docker.utils.json_stream import json_stream
from google.protobuf.message import DecodeError

from buildsvc.worker.base_images import external_images, pull_missing
from buildsvc.worker.buildkit_trace import TRACE_ID, Progress
from buildsvc.worker.errors import (
    BuildCancelled,
    BuildContextNotFound,
    BuildError,
    BuildFailed,
    DockerfileNotFound,
    DockerUnavailable,
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
    "oci_labels",
    "resolve_context",
    "run_streaming",
]

T = TypeVar("T")
Builder = Literal["buildkit", "legacy"]
LineCallback = Callable[[str], Awaitable[None] | None]

TAIL_LINES = 20
# What the SDK and its HTTP stack raise when the engine is gone or the stream breaks.
ENGINE_ERRORS = (
    docker.errors.DockerException,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)

_current = threading.local()


def _capture_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # A requests response hook: runs in the thread that made the request.
    handle: StreamCancel | None = getattr(_current, "handle", None)
    if handle is not None:
        handle._attach(response)


class StreamCancel:
    """Cancels a streaming docker call (build, push) from any thread.

    ``cancel()`` shuts the call's HTTP connection down: the blocked reader wakes up and
    the daemon, seeing the client gone, stops the operation.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            response = self._response
        if response is not None:
            self._close(response)

    @contextlib.contextmanager
    def track(self, api: docker.APIClient) -> Iterator[None]:
        """Remember the responses ``api`` receives in this thread while inside."""
        # APIClient is a requests.Session, so its response hooks see every response.
        if _capture_response not in api.hooks["response"]:
            api.hooks["response"].append(_capture_response)
        _current.handle = self
        try:
            yield
        finally:
            _current.handle = None
            with self._lock:
                response, self._response = self._response, None
            if response is not None:
                # A stream left early (an error item) must not keep its connection.
                response.close()

    def _attach(self, response: requests.Response) -> None:
        with self._lock:
            self._response = response
            cancelled = self.cancelled
        if cancelled:
            self._close(response)

    @staticmethod
    def _close(response: requests.Response) -> None:
        # close() alone does not wake a thread blocked in recv(); shutdown() does.
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            response.close()


async def run_streaming(
    work: Callable[[Callable[[str], None], StreamCancel], T],
    *,
    on_line: LineCallback | None,
    cancel: StreamCancel | None = None,
    grace: float = 10.0,
) -> T:
    """Run blocking ``work(emit, cancel)`` in a thread; await ``on_line`` per emitted line.

    If the awaiting task is cancelled (or ``on_line`` fails) the work is cancelled and
    awaited for up to ``grace`` seconds, so no build outlives its task.
    """
    loop = asyncio.get_running_loop()
    handle = cancel or StreamCancel()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def emit(line: str) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, line)

    def run() -> T:
        try:
            return work(emit, handle)
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        while (line := await lines.get()) is not None:
            if on_line is not None:
                result = on_line(line)
                if inspect.isawaitable(result):
                    await result
    except BaseException:
        handle.cancel()
        await asyncio.wait({task}, timeout=grace)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the caller's exception is the one that matters
        raise
    return await task


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """One ``docker build``: ``dockerfile`` is relative to ``context``."""

    context: Path
    tags: tuple[str, ...]
    dockerfile: str = "Dockerfile"
    buildargs: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    nocache: bool = False
    network_mode: str | None = None
    memory_limit: int | str | None = None  # bytes or docker notation ("512m")
    builder: Builder = "buildkit"
    # Registry host -> {"username", "password"}: for base images BuildKit needs pulled.
    registry_credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    @property
    def uses_buildkit(self) -> bool:
        """BuildKit unless the legacy builder is asked for or a memory limit needs it."""
        return self.builder == "buildkit" and self.memory_limit is None


def oci_labels(source: str, revision: str, created: datetime | None = None) -> dict[str, str]:
    """The OCI annotations every image records: where it came from and when."""
    moment = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": moment.isoformat().replace("+00:00", "Z"),
    }


def _inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` resolved, or None when it escapes ``root`` (``..``, symlinks)."""
    base = root.resolve()
    target = (base / relative).resolve()
    return target if target == base or target.is_relative_to(base) else None


def resolve_context(source_root: Path, context: str) -> Path:
    """The build context directory ``context`` (relative to the checkout) as a path."""
    path = _inside(source_root, context.strip("/") or ".")
    if path is None:
        raise BuildContextNotFound(context, detail=f"{context!r} is outside the repository")
    if not path.is_dir():
        raise BuildContextNotFound(context)
    return path


def check_dockerfile(context: Path, dockerfile: str) -> str:
    """The Dockerfile's path relative to ``context``; it must be a file inside it."""
    path = _inside(context, dockerfile)
    if path is None:
        raise DockerfileNotFound(dockerfile, detail=f"{dockerfile!r} is outside the build context")
    if not path.is_file():
        raise DockerfileNotFound(dockerfile)
    return path.relative_to(context.resolve()).as_posix()


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


def _first_entry_key(path: str) -> tuple[bool, int, str]:
    return (not path.isascii(), len(path), path)


def _context_tar(context: Path, dockerfile: str) -> IO[bytes]:
    """The build context as a tar file, minus what ``.dockerignore`` excludes.

    Same rules as ``docker build`` (docker-py's own parser). BuildKit tells a tar body
    from a bare Dockerfile by reading the first entry out of the first 512 bytes, so that
    entry must need no extended (PAX) header: whole-second mtimes, and a short ASCII path
    first. Tarring here also lets us close the temporary file on every path.
    """
    ignore = context / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        lines = (line.strip() for line in ignore.read_text().splitlines())
        patterns = [line for line in lines if line and not line.startswith("#")]
    paths = sorted(exclude_paths(str(context), patterns, dockerfile=dockerfile))
    if paths:
        first = min(paths, key=_first_entry_key)
        paths.remove(first)
        paths.insert(0, first)
    archive: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - returned open
    try:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path in paths:
                info = tar.gettarinfo(context / path, arcname=path)
                if info is None:  # a socket: not part of any image
                    continue
                info.mtime = int(info.mtime)
                if info.isfile():
                    with (context / path).open("rb") as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    return archive


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


# Prefixes BuildKit puts before what went wrong; the rest reads well on its own.
_SOLVE_PREFIXES = (
    "failed to solve with frontend dockerfile.v0: ",
    "failed to solve: ",
    "failed to create LLB definition: ",
)


_has_bridge: weakref.WeakKeyDictionary[docker.APIClient, bool] = weakref.WeakKeyDictionary()


def _buildkit_network(api: docker.APIClient, mode: str | None) -> str:
    """The network mode to ask BuildKit for, given the configured one.

    ``default`` is the engine's bridge network. An engine started without one
    (``dockerd --bridge=none``) gives legacy-builder containers only a loopback
    interface, while BuildKit fails every RUN with "network bridge not found"; ``none``
    is that same isolation. Asked once per client.
    """
    if mode not in (None, "default"):
        return str(mode)
    if api not in _has_bridge:
        _has_bridge[api] = bool(api.networks(names=["bridge"]))
    return "default" if _has_bridge[api] else "none"


def _buildkit_params(
    api: docker.APIClient, request: BuildRequest, dockerfile: str
) -> dict[str, Any]:
    return {
        "version": "2",  # BuildKit
        "t": list(request.tags),  # every tag in the one build
        "dockerfile": dockerfile,
        "buildargs": json.dumps(dict(request.buildargs)),
        "labels": json.dumps(dict(request.labels)),  # image metadata, no build step
        "nocache": "1" if request.nocache else "0",
        "networkmode": _buildkit_network(api, request.network_mode),
        "pull": "0",  # base images are local; nothing can be pulled
    }


def _buildkit_failure(error: str, progress: Progress) -> BuildFailed:
    message = error.strip()
    for prefix in _SOLVE_PREFIXES:
        message = message.removeprefix(prefix)
    return BuildFailed(message, step=progress.step, last_lines=progress.tail)


def _consume_buildkit(
    stream: Iterator[dict[str, Any]],
    progress: Progress,
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> str:
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
            raise _buildkit_failure(str(item["error"]), progress)
        elif item.get("id") == "moby.image.id" and isinstance(aux, dict) and "ID" in aux:
            image_id = str(aux["ID"])
        elif "stream" in item:  # "Successfully tagged …"
            for line in str(item["stream"]).splitlines():
                if line.strip():
                    on_line(line.rstrip())
    progress.flush()
    if cancel.cancelled:
        raise BuildCancelled()
    if image_id is None:
        raise BuildFailed("the engine reported no image id", step=progress.step, last_lines=[])
    return image_id


def _build_buildkit(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    archive: IO[bytes],
    progress: Progress,
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> str:
    # docker-py's build() cannot ask for BuildKit; the endpoint is the same one.
    response = api.post(
        f"{api.base_url}/v{api.api_version}/build",
        params=_buildkit_params(api, request, dockerfile),
        data=archive,
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=None,  # the build's own deadline applies, not a read timeout
    )
    try:
        try:
            response.raise_for_status()
        except requests.HTTPError as exc:
            docker.errors.create_api_error_from_http_exception(exc)  # raises APIError
        chunks = response.iter_content(chunk_size=None)
        return _consume_buildkit(json_stream(chunks), progress, on_line, cancel)
    finally:
        response.close()


def _base_images(request: BuildRequest, dockerfile: str) -> list[str]:
    try:
        return external_images(request.context / dockerfile, request.buildargs)
    except Exception:  # a Dockerfile's own errors are BuildKit's to report
        return []


def _build_legacy(
    api: docker.APIClient,
    request: BuildRequest,
    dockerfile: str,
    archive: IO[bytes],
    lines: _Lines,
    cancel: StreamCancel,
) -> str:
    stream = api.build(fileobj=archive, **_build_kwargs(request, dockerfile))
    try:
        image_id = _consume(stream, lines, cancel)
    finally:
        stream.close()
    for extra in request.tags[1:]:
        repository, tag = parse_repository_tag(extra)
        api.tag(image_id, repository, tag or "latest")
    return image_id


def build_image_sync(
    api: docker.APIClient,
    request: BuildRequest,
    *,
    on_line: Callable[[str], None] = lambda _line: None,
    cancel: StreamCancel | None = None,
) -> str:
    """Build ``request`` and tag it with every tag; return the image id (blocking)."""
    handle = cancel or StreamCancel()
    dockerfile = check_dockerfile(request.context, request.dockerfile)
    lines = _Lines(on_line)
    progress = Progress(on_line)
    report: _Lines | Progress = progress if request.uses_buildkit else lines
    archive = _context_tar(request.context, dockerfile)
    try:
        size = archive.seek(0, 2)
        archive.seek(0)
        builder = "BuildKit" if request.uses_buildkit else "the legacy builder"
        on_line(f"Sending build context ({size / 1024:.1f} kB) to {builder}")
        with handle.track(api):
            if request.uses_buildkit:
                pull_missing(
                    api,
                    _base_images(request, dockerfile),
                    credentials=request.registry_credentials,
                    on_line=on_line,
                )
                image_id = _build_buildkit(
                    api, request, dockerfile, archive, progress, on_line, handle
                )
            else:
                image_id = _build_legacy(api, request, dockerfile, archive, lines, handle)
    except BuildError:
        raise
    except docker.errors.APIError as exc:
        if handle.cancelled:
            raise BuildCancelled() from exc
        message = str(exc.explanation or exc)
        if "Cannot locate specified Dockerfile" in message:
            raise DockerfileNotFound(request.dockerfile, detail=message) from exc
        if exc.is_client_error() or "dockerfile parse error" in message.lower():
            raise BuildFailed(message, step=report.step, last_lines=report.tail) from exc
        raise DockerUnavailable(detail=message) from exc
    except ENGINE_ERRORS as exc:
        if handle.cancelled:
            raise BuildCancelled() from exc
        raise DockerUnavailable(detail=f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        # A cancelled stream breaks inside urllib3 in arbitrary ways; only then expected.
        if handle.cancelled:
            raise BuildCancelled() from exc
        raise
    finally:
        archive.close()
    return image_id


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
