"""Push an image's tags to the registry and return the manifest digest.

docker-py reports registry failures inside the push stream, not as exceptions, so each
``error`` item is classified here: credentials rejected, access denied, transient
(network, 5xx, a corrupted upload) or anything else. Transient failures are retried with
exponential backoff; when the attempts run out they end in ``RegistryUnavailable``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import docker
from docker.utils import parse_repository_tag

from buildsvc.worker.errors import (
    BuildCancelled,
    BuildError,
    DockerUnavailable,
    RegistryDenied,
    RegistryError,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from buildsvc.worker.push_lines import push_line
from buildsvc.worker.streaming import (
    ENGINE_ERRORS,
    LineCallback,
    StreamCancel,
    run_streaming,
)

__all__ = ["classify_push_error", "push_image", "push_tag_sync", "retry_transient"]

T = TypeVar("T")

_UNAUTHORIZED = ("unauthorized", "authentication required", "no basic auth credentials")
_DENIED = ("denied:", "requested access to the resource is denied")
_TRANSIENT = (
    "received unexpected http status: 5",
    "filesystem layer verification failed",
    "connection refused",
    "connection reset",
    "broken pipe",
    "i/o timeout",
    "tls handshake timeout",
    "unexpected eof",
    "no such host",
    "500 internal server error",
    "502 bad gateway",
    "503 service unavailable",
    "504 gateway timeout",
    "toomanyrequests",
)


def classify_push_error(message: str) -> RegistryError:
    """The error a push failure message means (as the daemon words it)."""
    lowered = message.lower()
    if any(pattern in lowered for pattern in _UNAUTHORIZED):
        return RegistryUnauthorized(detail=message)
    if any(pattern in lowered for pattern in _DENIED):
        return RegistryDenied(detail=message)
    if any(pattern in lowered for pattern in _TRANSIENT):
        return RegistryUnavailable(detail=message)
    return RegistryError(detail=message)


def _digest_of(item: dict[str, Any]) -> str | None:
    aux = item.get("aux")
    if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
        return str(aux["Digest"])
    return None


def push_tag_sync(
    api: docker.APIClient,
    tag: str,
    *,
    auth_config: dict[str, str] | None,
    on_line: Callable[[str], None] = lambda _line: None,
    cancel: StreamCancel | None = None,
) -> str:
    """Push one ``repository:tag`` (blocking); return its manifest digest."""
    handle = cancel or StreamCancel()
    repository, name = parse_repository_tag(tag)
    try:
        with handle.track(api):
            stream = api.push(
                repository, tag=name or "latest", stream=True, decode=True, auth_config=auth_config
            )
            digest = _read_push(stream, repository, handle, on_line)
    except BuildError:
        raise
    except Exception as exc:
        if handle.cancelled:
            raise BuildCancelled() from exc
        mapped = _push_failure(exc)
        if mapped is None:
            raise
        raise mapped from exc
    if handle.cancelled:
        raise BuildCancelled()
    if digest is None:
        raise RegistryError(detail=f"the push of {tag} reported no digest")
    return digest


def _read_push(
    stream: Iterable[dict[str, Any]],
    repository: str,
    handle: StreamCancel,
    on_line: Callable[[str], None],
) -> str | None:
    """Follow the engine's push stream: log lines out, the manifest digest back."""
    digest: str | None = None
    for item in stream:
        if handle.cancelled:
            raise BuildCancelled()
        if "error" in item:
            raise classify_push_error(str(item["error"]).strip())
        digest = _digest_of(item) or digest
        status = item.get("status")
        # Byte-progress updates repeat hundreds of times; the log keeps the rest.
        if status and status != "Pushing":
            shown = push_line(str(status), repository)
            on_line(f"{item['id']}: {shown}" if item.get("id") else shown)
    return digest


def _push_failure(exc: Exception) -> BuildError | None:
    """The build error an engine failure during a push means, or None (a bug: re-raise)."""
    if isinstance(exc, docker.errors.APIError):
        return classify_push_error(str(exc.explanation or exc))
    if isinstance(exc, ENGINE_ERRORS):
        return DockerUnavailable(detail=f"{type(exc).__name__}: {exc}")
    return None


def _push_one(
    api: docker.APIClient,
    tag: str,
    auth_config: dict[str, str] | None,
    emit: Callable[[str], None],
    cancel: StreamCancel,
) -> str:
    return push_tag_sync(api, tag, auth_config=auth_config, on_line=emit, cancel=cancel)


async def retry_transient(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int,
    base_delay: float,
    on_line: LineCallback | None,
) -> T:
    """``work()``, tried again after ``base_delay``, twice that, ... while the registry is
    unavailable (5xx, network), up to ``attempts`` tries; other failures raise at once."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except RegistryUnavailable as exc:
            if attempt == attempts:
                raise RegistryUnavailable(
                    detail=f"{exc.detail} (gave up after {attempts} attempts)"
                ) from exc
            delay = base_delay * 2 ** (attempt - 1)
            if on_line is not None:
                notice = on_line(f"{what} failed ({exc.detail}); retry in {delay:g} s")
                if notice is not None:
                    await notice
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def push_image(
    api: docker.APIClient,
    tags: Sequence[str],
    *,
    username: str | None = None,
    password: str | None = None,
    on_line: LineCallback | None = None,
    attempts: int = 4,
    base_delay: float = 1.0,
    cancel: StreamCancel | None = None,
) -> str:
    """Push every tag (one image) with the given credentials; return the manifest digest.

    A transient failure is retried after ``base_delay``, then twice that, and so on,
    up to ``attempts`` tries per tag; other failures raise at once.
    """
    if not tags:
        raise RegistryError(detail="no tags to push")
    auth = {"username": username, "password": password or ""} if username else None
    digests: list[str] = []
    for tag in tags:
        work = functools.partial(_push_one, api, tag, auth)
        digests.append(
            await retry_transient(
                functools.partial(run_streaming, work, on_line=on_line, cancel=cancel),
                what=f"Push of {tag}",
                attempts=attempts,
                base_delay=base_delay,
                on_line=on_line,
            )
        )
    # Every tag names the same image, so the registry computed one digest for all.
    return digests[0]
