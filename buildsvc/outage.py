"""Riding out a Redis outage: a capped backoff, and one log line per change of state.

Each process keeps one ``Outage`` for the Redis it depends on: the worker's supervisor
(``worker.supervise``) for arq's poll loop, the API's ``LazyArqPool`` for enqueues.
However many tries fail while Redis is away, the log says once that the connection was
lost and once that it is back, with how long it was gone. Tasks that only retry (the
worker's cancel and wake-up listeners) take a ``Backoff`` of their own and stay quiet.

Delays double from 0.5 s up to 2 s.
"""

from __future__ import annotations

import logging
import time

FIRST_DELAY_SECONDS = 0.5
# The cap is how late, at worst, builds start again once Redis is back; a refused
# connection every few seconds costs Redis and the worker nothing.
MAX_DELAY_SECONDS = 2.0


class Backoff:
    """Delays doubling from ``first`` up to ``cap``; ``reset`` once a try succeeded."""

    def __init__(self, first: float = FIRST_DELAY_SECONDS, cap: float = MAX_DELAY_SECONDS) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Outage:
    """Whether Redis is away, logged when that changes."""

    def __init__(self, logger: logging.Logger, backoff: Backoff | None = None) -> None:
        self._log = logger
        self._backoff = backoff or Backoff()
        self._since: float | None = None  # monotonic time the connection was lost

    @property
    def down(self) -> bool:
        return self._since is not None

    def lost(self, exc: BaseException) -> float:
        """Note a failed try; the seconds to wait before the next one."""
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning("redis connection lost: %s; retrying", exc)
        return self._backoff.next()

    def restored(self) -> None:
        """Note a try that succeeded."""
        if self._since is not None:
            down_for = time.monotonic() - self._since
            self._since = None
            self._log.warning("redis connection restored after %.1f s", down_for)
        self._backoff.reset()
