"""The registry check: does the configured login get in, and may it push?

Push is checked by opening a blob upload (what every push starts with) and cancelling
it: no blob is stored, only the upload's stub, which the registry's upload purging
removes (Distribution: after a week by default). It goes through the worker's own
registry client: the same auth handshake (Basic, or a bearer token from the registry's
token service) as a build's push.
"""

from __future__ import annotations

import asyncio
from typing import Any

import requests

from buildsvc.config import Settings
from buildsvc.preflight.checks import docker_info
from buildsvc.preflight.registry_record import registry_fingerprint
from buildsvc.preflight.result import TIMEOUT_SECONDS, Check, root_cause
from buildsvc.worker.errors import RegistryDenied, RegistryUnauthorized, RegistryUnavailable
from buildsvc.worker.registry_session import (
    ImageRef,
    RegistryLogin,
    RegistrySession,
    registry_is_insecure,
)

# The repository is named after the password's fingerprint: the worker's client
# remembers a header that worked per repository, and the check must try the configured
# password, not one that worked before.
PREFLIGHT_NAMESPACE = "buildsvc-preflight"
LOOPBACK_ONLY: dict[str, Any] = {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}}


def _try_push(settings: Settings) -> None:
    """Open a blob upload (what a push starts with), then cancel it."""
    try:
        info = docker_info(settings)
    except Exception:  # no engine to ask: plain HTTP for loopback only, as the engine does
        info = LOOPBACK_ONLY
    login = None
    if settings.registry_username:
        password = settings.registry_password
        secret = password.get_secret_value() if password else ""
        login = RegistryLogin(settings.registry_username, secret)
    fingerprint = registry_fingerprint(settings)["password"]
    ref = ImageRef(settings.registry, f"{PREFLIGHT_NAMESPACE}/{fingerprint}", ())
    client = RegistrySession(
        ref,
        login,
        insecure=registry_is_insecure(info, settings.registry),
        timeout=TIMEOUT_SECONDS,
    )
    try:
        upload = client.request("POST", "blobs/uploads/")
        location = upload.headers.get("Location")
        if location:
            client.request("DELETE", location)
    finally:
        client.close()


async def check_registry(settings: Settings) -> Check:
    who = settings.registry_username or "anonymous"
    try:
        await asyncio.to_thread(_try_push, settings)
    except RegistryUnauthorized:
        return Check(
            "registry",
            problem=f"{settings.registry} refuses the login of {who}",
            fix="correct BUILDSVC_REGISTRY_USERNAME / BUILDSVC_REGISTRY_PASSWORD",
        )
    except RegistryDenied:
        return Check(
            "registry",
            problem=f"{settings.registry} accepts {who} but denies push",
            fix=f"give {who} push permission on the registry",
        )
    except (RegistryUnavailable, requests.RequestException) as exc:
        return Check(
            "registry",
            problem=f"{settings.registry} is not reachable ({root_cause(exc)})",
            fix="start the registry, or correct BUILDSVC_REGISTRY",
        )
    except Exception as exc:  # any other registry answer: push would fail the same way
        return Check(
            "registry",
            problem=f"{settings.registry} refused a push ({root_cause(exc)})",
            fix="check the registry's log and BUILDSVC_REGISTRY",
        )
    return Check("registry", found=f"{settings.registry}: {who} logs in and may push")
