"""A real arq worker in burst mode: runs the queue's due jobs until none is left."""

from __future__ import annotations

from arq.connections import RedisSettings, create_pool
from arq.worker import Function, Worker

from buildsvc.worker.supervise import close


async def run_burst(redis_url: str, functions: list[Function]) -> None:
    worker = Worker(
        functions=functions,
        redis_pool=await create_pool(RedisSettings.from_dsn(redis_url)),
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await close(worker)  # arq's own close calls redis-py's deprecated close()
