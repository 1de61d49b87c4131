"""The registry settings each API and worker process started with, kept in Redis.

Every process writes one field of the hash ``REGISTRY_SETTINGS_KEY`` at startup: its
identity (``api@host:port``, ``worker@host docker_url``, so a restart replaces its own
entry) and ``{registry, username, password}``, the password as a fingerprint only.
``buildsvc admin check`` compares them: an API and a worker that disagree push to one
registry and hand out logins for another, or push with a stale password.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from typing import Literal

from buildsvc.config import Settings
from buildsvc.preflight.checks import close_redis, redis_client
from buildsvc.preflight.result import Check

log = logging.getLogger(__name__)

REGISTRY_SETTINGS_KEY = "buildsvc:registry-settings"
# Salted and cut short: enough to tell two passwords apart, too little to test guesses.
FINGERPRINT_SALT = b"buildsvc registry password fingerprint\0"
FINGERPRINT_HEX_CHARS = 10

Role = Literal["api", "worker"]


def process_identity(settings: Settings, role: Role) -> str:
    host = socket.gethostname()
    if role == "api":
        return f"api@{host}:{settings.port}"
    return f"worker@{host} {settings.docker_url}"


def registry_fingerprint(settings: Settings) -> dict[str, str]:
    password = settings.registry_password
    if password is None or not password.get_secret_value():
        fingerprint = "none"
    else:
        digest = hashlib.sha256(FINGERPRINT_SALT + password.get_secret_value().encode())
        fingerprint = digest.hexdigest()[:FINGERPRINT_HEX_CHARS]
    return {
        "registry": settings.registry,
        "username": settings.registry_username or "",
        "password": fingerprint,
    }


async def record_registry_settings(settings: Settings, role: Role) -> None:
    """Write this process's entry; Redis being down only costs the comparison (logged)."""
    entry = {**registry_fingerprint(settings), "recorded_at": int(time.time())}
    client = redis_client(settings)
    try:
        name = process_identity(settings, role)
        # redis-py types hash commands for its sync and async clients in one signature.
        await client.hset(REGISTRY_SETTINGS_KEY, name, json.dumps(entry))  # type: ignore[misc]
    except Exception as exc:  # Redis down: serve and worker start anyway
        log.warning("registry settings not recorded in Redis: %s", exc)
    finally:
        await close_redis(client)


async def check_registry_agreement(settings: Settings) -> Check:
    client = redis_client(settings)
    try:
        raw = await client.hgetall(REGISTRY_SETTINGS_KEY)  # type: ignore[misc]  # as hset
    except Exception as exc:  # the redis check names the cause and its fix
        return Check(
            "registry settings",
            problem=f"cannot read what the processes recorded ({type(exc).__name__})",
            fix="make Redis reachable (see the redis line)",
        )
    finally:
        await close_redis(client)
    entries = {key.decode(): json.loads(value) for key, value in raw.items()}
    roles = {name.split("@", 1)[0] for name in entries}
    if not {"api", "worker"} <= roles:
        missing = " and ".join(sorted({"api", "worker"} - roles))
        return Check(
            "registry settings",
            problem=f"no {missing} process has recorded its registry settings in Redis",
            fix="start buildsvc serve and buildsvc worker (each records them at startup) "
            "with this BUILDSVC_REDIS_URL",
        )
    groups: dict[tuple[str, str, str], list[str]] = {}
    for name, entry in sorted(entries.items()):
        key = (entry["registry"], entry["username"], entry["password"])
        groups.setdefault(key, []).append(name)
    if len(groups) > 1:
        described = "; ".join(
            f"{', '.join(names)}: {registry} user {user or '-'} password #{fingerprint}"
            for (registry, user, fingerprint), names in groups.items()
        )
        return Check(
            "registry settings",
            problem=f"processes disagree: {described}",
            fix="give every process the same BUILDSVC_REGISTRY* settings and restart it "
            f"(a process gone for good: redis-cli HDEL {REGISTRY_SETTINGS_KEY} '<name>')",
        )
    ((registry, user, _),) = groups
    return Check(
        "registry settings",
        found=f"{len(entries)} processes agree ({registry}, user {user or '-'})",
    )
