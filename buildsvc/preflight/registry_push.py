"""The registry check: does the configured login get in, and may it push?

Push is checked by opening a blob upload (what every push starts with) and cancelling
it: no blob is stored, only the upload's stub, which the registry's upload purging
removes (Distribution: after a week by default). It goes through the worker's own
registry client: the same auth handshake (Basic, or a bearer token from the registry's
token service) as a build's push.

Without configured credentials, a registry whose challenge names a token service
(buildsvc's own ``/v2/token``) passes once the challenge is followed and the token
service answers: builds log in there as ``$build+<id>`` with a secret made when they
are claimed, so there is no standing login to try a push with.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

import requests

from buildsvc.config import Settings
from buildsvc.preflight.checks import docker_info
from buildsvc.preflight.registry_record import registry_fingerprint
from buildsvc.preflight.result import TIMEOUT_SECONDS, Check, root_cause
from buildsvc.worker.errors import (
    RegistryDenied,
    RegistryError,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from buildsvc.worker.registry_session import (
    ImageRef,
    RegistryLogin,
    RegistrySession,
    _verify,
    api_host,
    registry_is_insecure,
)

# The repository is named after the password's fingerprint: the worker's client
# remembers a header that worked per repository, and the check must try the configured
# password, not one that worked before.
PREFLIGHT_NAMESPACE = "buildsvc-preflight"
LOOPBACK_ONLY: dict[str, Any] = {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}}


def _try_push(settings: Settings) -> str | None:
    """Open a blob upload (what a push starts with), then cancel it. With no configured
    login and a bearer challenge: the token service's URL, after asking it anonymously
    (it must answer; it grants an anonymous client no push, which builds do not need)."""
    try:
        info = docker_info(settings)
    except Exception:  # no engine to ask: plain HTTP for loopback only, as the engine does
        info = LOOPBACK_ONLY
    insecure = registry_is_insecure(info, settings.registry)
    if not settings.registry_username:
        realm = _token_realm(settings, insecure)
        if realm is not None:
            return realm
    login = None
    if settings.registry_username:
        password = settings.registry_password
        secret = password.get_secret_value() if password else ""
        login = RegistryLogin(settings.registry_username, secret)
    fingerprint = registry_fingerprint(settings)["password"]
    ref = ImageRef(settings.registry, f"{PREFLIGHT_NAMESPACE}/{fingerprint}", ())
    client = RegistrySession(ref, login, insecure=insecure, timeout=TIMEOUT_SECONDS)
    try:
        upload = client.request("POST", "blobs/uploads/")
        location = upload.headers.get("Location")
        if location:
            client.request("DELETE", location)
    finally:
        client.close()
    return None


def _token_realm(settings: Settings, insecure: bool) -> str | None:
    """The token service the registry's challenge names, once it answered an anonymous
    request for a token (None: the registry asks for no bearer token)."""
    base = f"{'http' if insecure else 'https'}://{api_host(settings.registry)}"
    verify = _verify(settings.registry)  # for the token service: the system's CAs too
    try:
        challenge = requests.get(f"{base}/v2/", timeout=TIMEOUT_SECONDS, verify=verify)
    except requests.RequestException as exc:
        raise RegistryUnavailable(detail=f"{type(exc).__name__}: {exc}") from exc
    if challenge.status_code != 401:
        return None
    scheme, _, params = challenge.headers.get("WWW-Authenticate", "").partition(" ")
    info = parse_keqv_list(parse_http_list(params))
    realm = info.get("realm")
    if scheme.lower() != "bearer" or not realm:
        return None
    query = {"service": info["service"]} if info.get("service") else {}
    try:
        answer = requests.get(realm, params=query, timeout=TIMEOUT_SECONDS, verify=verify)
    except requests.RequestException as exc:
        raise RegistryUnavailable(detail=f"token service {realm}: {exc}") from exc
    if answer.status_code >= 500:
        raise RegistryUnavailable(detail=f"token service {realm}: {answer.status_code}")
    if answer.status_code != 200:
        raise RegistryError(detail=f"token service {realm} answered {answer.status_code}")
    return realm


async def check_registry(settings: Settings) -> Check:
    who = settings.registry_username or "anonymous"
    try:
        realm = await asyncio.to_thread(_try_push, settings)
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
    if realm is not None:
        return Check(
            "registry",
            found=f"{settings.registry}: token auth at {realm}; builds log in as $build+<id>",
        )
    return Check("registry", found=f"{settings.registry}: {who} logs in and may push")
