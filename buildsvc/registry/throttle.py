"""Slowing down repeated failed logins, per login and client address.

The count lives in Redis, so every API process sees the same one. The first
``FREE_FAILURES`` failures cost nothing; each later attempt waits
``BASE_DELAY * 2^(n - FREE_FAILURES)`` seconds (at most ``MAX_DELAY``) before its
credentials are even checked. A success clears the count; it expires after
``WINDOW_SECONDS`` without failures. Without Redis nothing is slowed (logins still work).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FREE_FAILURES = 3
BASE_DELAY = 0.5
MAX_DELAY = 10.0
WINDOW_SECONDS = 900

RedisGetter = Callable[[], Awaitable["Redis | None"]]


def delay_after(failures: int) -> float:
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, BASE_DELAY * 2.0 ** (failures - FREE_FAILURES))


def _key(login: str, address: str | None) -> str:
    # Hashed: Redis need not hold login names.
    digest = hashlib.sha256(f"{login}\x00{address or ''}".encode()).hexdigest()[:32]
    return f"buildsvc:registry:failures:{digest}"


class LoginThrottle:
    def __init__(
        self, redis: RedisGetter, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ):
        self._redis = redis
        self.sleep = sleep

    async def wait(self, login: str, address: str | None) -> int:
        """Wait as long as this login's failures from this address require; returns how
        many there were (a success need clear nothing when there were none)."""
        stored = await self._call(lambda r: r.get(_key(login, address)))
        failures = int(stored) if isinstance(stored, bytes | str) else 0
        delay = delay_after(failures)
        if delay:
            await self.sleep(delay)
        return failures

    async def failed(self, login: str, address: str | None) -> None:
        key = _key(login, address)

        async def count(r: Redis) -> object:
            async with r.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS)
                return await pipe.execute()

        await self._call(count)

    async def succeeded(self, login: str, address: str | None) -> None:
        await self._call(lambda r: r.delete(_key(login, address)))

    async def _call(self, command: Callable[[Redis], Awaitable[object]]) -> object:
        try:
            redis = await self._redis()
            if redis is None:
                return None
            return await command(redis)
        except (RedisError, OSError) as exc:
            log.warning("login throttle unavailable: %s", type(exc).__name__)
            return None
