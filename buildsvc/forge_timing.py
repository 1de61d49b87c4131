"""Timing every code-source operation without touching the adapters.

``instrument_providers(providers, observe)`` wraps each ``SourceProvider`` in a proxy:
every coroutine method (``bind``, and on the clients that ``client()`` opens,
``list_namespaces``, ``create_hook``, ``resolve_ref`` ...) is timed and reported as
``observe(provider, operation, result, seconds)``, where ``result`` is ``ok`` or the
error's stable ``code`` (``SOURCE_UNREACHABLE`` ...). Everything else passes through,
so methods added to the interface later are timed too. ``observe`` is a plain callable:
this module knows nothing of Prometheus.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, cast

from buildsvc.errors import ServiceError
from buildsvc.sources import SourceProvider

Observer = Callable[[str, str, str, float], None]


def _result(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, ServiceError):
        return exc.code
    return "error" if isinstance(exc, Exception) else "cancelled"


class _Timed:
    """Proxy timing the coroutine methods of ``target`` under ``provider``."""

    def __init__(self, target: Any, provider: str, observe: Observer) -> None:
        self._target = target
        self._provider = provider
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if inspect.iscoroutinefunction(attribute):
            return self._timed(name, attribute)
        if name == "client" and callable(attribute):
            return self._opening(attribute)
        return attribute

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            failure: BaseException | None = None
            try:
                return await method(*args, **kwargs)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                elapsed = time.perf_counter() - started
                self._observe(self._provider, name, _result(failure), elapsed)

        return call

    def _opening(self, factory: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(factory)
        def open_client(*args: Any, **kwargs: Any) -> Any:
            return _Timed(factory(*args, **kwargs), self._provider, self._observe)

        return open_client


def instrument_providers(
    providers: dict[str, SourceProvider], observe: Observer
) -> dict[str, SourceProvider]:
    return {
        name: cast(SourceProvider, _Timed(provider, name, observe))
        for name, provider in providers.items()
    }
