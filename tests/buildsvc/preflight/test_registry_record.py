"""What API and worker processes record in Redis, and the comparison `admin check` makes."""

from __future__ import annotations

import json

import redis.asyncio
from pydantic import SecretStr

from buildsvc.config import Settings
from buildsvc.preflight.registry_record import (
    REGISTRY_SETTINGS_KEY,
    check_registry_agreement,
    record_registry_settings,
)
from tests.common.servers import free_port


def _with_password(settings: Settings, password: str, **update: object) -> Settings:
    values = {"registry_username": "buildsvc", "registry_password": SecretStr(password)}
    return settings.model_copy(update={**values, **update})


async def _recorded(settings: Settings) -> dict[str, dict[str, object]]:
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    try:
        raw = await client.hgetall(REGISTRY_SETTINGS_KEY)  # type: ignore[misc]
    finally:
        await client.aclose()
    return {key.decode(): json.loads(value) for key, value in raw.items()}


async def test_processes_with_the_same_settings_agree(settings: Settings) -> None:
    await record_registry_settings(_with_password(settings, "s3cret-pw", port=9001), "api")
    await record_registry_settings(_with_password(settings, "s3cret-pw"), "worker")

    check = await check_registry_agreement(settings)

    assert check.ok, check.line()
    assert "2 processes agree" in check.line()


async def test_a_worker_with_another_password_disagrees(settings: Settings) -> None:
    await record_registry_settings(_with_password(settings, "s3cret-pw", port=9001), "api")
    await record_registry_settings(_with_password(settings, "old-pw-here"), "worker")

    check = await check_registry_agreement(settings)

    assert not check.ok
    assert "disagree" in check.line()
    assert ":9001" in check.line()
    assert "worker@" in check.line()
    assert "s3cret-pw" not in check.line()
    assert "old-pw-here" not in check.line()


async def test_the_password_is_stored_as_a_fingerprint_only(settings: Settings) -> None:
    await record_registry_settings(_with_password(settings, "s3cret-pw"), "worker")

    (entry,) = (await _recorded(settings)).values()

    assert entry["registry"] == settings.registry
    assert entry["username"] == "buildsvc"
    assert "s3cret-pw" not in json.dumps(entry)
    assert len(str(entry["password"])) == 10


async def test_a_restarted_process_replaces_its_own_entry(settings: Settings) -> None:
    await record_registry_settings(_with_password(settings, "old-pw-here"), "worker")
    await record_registry_settings(_with_password(settings, "s3cret-pw"), "worker")
    await record_registry_settings(_with_password(settings, "s3cret-pw"), "api")

    assert len(await _recorded(settings)) == 2
    assert (await check_registry_agreement(settings)).ok


async def test_without_a_worker_there_is_nothing_to_compare(settings: Settings) -> None:
    await record_registry_settings(_with_password(settings, "s3cret-pw"), "api")

    check = await check_registry_agreement(settings)

    assert not check.ok
    assert "no worker process has recorded" in check.line()


async def test_recording_with_redis_down_does_not_stop_the_process(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})

    await record_registry_settings(down, "api")  # logged, not raised

    assert not (await check_registry_agreement(down)).ok
