"""The lazily connected arq pool: None while Redis is down, a pool once it answers."""

from __future__ import annotations

from buildsvc.builds.outbox import LazyArqPool
from tests.common.servers import free_port


async def test_unreachable_redis_gives_none_and_is_not_retried_at_once() -> None:
    queue = LazyArqPool(f"redis://127.0.0.1:{free_port()}/0", retry_interval=60)
    assert await queue.get() is None
    assert await queue.get() is None  # within retry_interval: no new connection attempt
    assert not queue.connected
    await queue.close()


async def test_reachable_redis_gives_a_pool_that_enqueues(redis_url: str) -> None:
    queue = LazyArqPool(redis_url)
    pool = await queue.get()
    assert pool is not None
    assert await queue.get() is pool
    job = await pool.enqueue_job("run_build", 1, _job_id="test-job-1")
    assert job is not None
    assert await pool.enqueue_job("run_build", 1, _job_id="test-job-1") is None  # deduped
    await queue.close()
    assert not queue.connected
