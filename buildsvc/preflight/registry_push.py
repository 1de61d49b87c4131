"""The registry check: does the configured login get in, and may it push?

Push is checked by opening a blob upload (what every push starts with) and cancelling
it: no blob is stored, only the upload's stub, which the registry's upload purging
removes (Distribution: after a week by default). It goes through the worker's own
registry client: the same auth handshake (Basic, or a bearer token from the registry's
token service) as a build's push.

Without configured credentials the registry trusts buildsvc's tokens (builds log in as
``$build+<id>`` with a secret made when they are claimed, so there is no standing login
to try). Then the check signs a push token itself, with the key under
``BUILDSVC_REGISTRY_KEY_DIR`` (what the registry's ``rootcertbundle`` must hold), for a
scratch repository, and opens and cancels an upload with it: a refusal there means the
registry trusts another bundle. A process with no signing key on disk (a worker on
another machine) checks only that the challenge's token service answers.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

import requests

from buildsvc.config import Settings
from buildsvc.errors import ServiceError
from buildsvc.preflight.checks import docker_info
from buildsvc.preflight.registry_record import registry_fingerprint
from buildsvc.preflight.result import TIMEOUT_SECONDS, Check, root_cause
from buildsvc.registry.server import key_store, service_token
from buildsvc.registry.signing import SigningKey
from buildsvc.registry.tokens import Access
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
SCRATCH_REPOSITORY = f"{PREFLIGHT_NAMESPACE}/token-check"  # one name: nothing piles up
LOOPBACK_ONLY: dict[str, Any] = {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"]}}


def _try_push(settings: Settings) -> str | None:
    """Open a blob upload (what a push starts with), then cancel it; what that proved
    beyond a configured login's push (None: just that). No configured login: with a
    token we sign, or, without a key here, the token service answering."""
    try:
        info = docker_info(settings)
    except Exception:  # no engine to ask: plain HTTP for loopback only, as the engine does
        info = LOOPBACK_ONLY
    insecure = registry_is_insecure(info, settings.registry)
    if not settings.registry_username:
        keys = key_store(settings).on_disk()
        if keys:
            return _try_signed_push(settings, keys[-1], insecure)
        realm = _token_realm(settings, insecure)
        if realm is not None:
            return f"token auth at {realm}; builds log in as $build+<id>"
    login = None
    if settings.registry_username:
        password = settings.registry_password
        secret = password.get_secret_value() if password else ""
        login = RegistryLogin(settings.registry_username, secret)
    fingerprint = registry_fingerprint(settings)["password"]
    ref = ImageRef(settings.registry, f"{PREFLIGHT_NAMESPACE}/{fingerprint}", ())
    # Distribution wants delete for any DELETE, an upload's cancel too; a token service
    # grants what it allows of what is asked, so asking for it costs a push-only login
    # nothing but the cancel (the registry purges the stub later).
    client = RegistrySession(
        ref, login, insecure=insecure, timeout=TIMEOUT_SECONDS, actions="pull,push,delete"
    )
    try:
        upload = client.request("POST", "blobs/uploads/")
        location = upload.headers.get("Location")
        if location:
            client.request("DELETE", location, allow=(401, 403))
    finally:
        client.close()
    return None


class TokenRefused(ServiceError):
    """A preflight finding, never a build's error: the registry trusts another key."""

    code = "REGISTRY_TOKEN_REFUSED"
    status = 503
    default_message = "The registry refused a token signed by buildsvc."


def _try_signed_push(settings: Settings, key: SigningKey, insecure: bool) -> str:
    """Open and cancel an upload with a push token we sign; what it proved."""
    base = f"{'http' if insecure else 'https'}://{api_host(settings.registry)}"
    verify = _verify(settings.registry)
    access = [Access("repository", SCRATCH_REPOSITORY, ("pull", "push", "delete"))]
    token = service_token(settings, key, access).token
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with requests.Session() as http:
            http.headers.update(headers)
            probe = http.get(f"{base}/v2/", timeout=TIMEOUT_SECONDS, verify=verify)
            if probe.status_code == 401:
                raise TokenRefused(detail=f"GET /v2/ with a token of key {key.kid}: 401")
            upload = http.post(
                f"{base}/v2/{SCRATCH_REPOSITORY}/blobs/uploads/",
                timeout=TIMEOUT_SECONDS,
                verify=verify,
                allow_redirects=False,
            )
            if upload.status_code == 401:
                raise TokenRefused(detail=f"upload start with a push token: {upload.status_code}")
            if upload.status_code == 403:
                raise RegistryDenied(detail="push with a token signed by buildsvc: 403")
            if upload.status_code != 202:
                raise RegistryError(detail=f"upload start answered {upload.status_code}")
            location = upload.headers.get("Location")
            if location:
                target = location if location.startswith("http") else base + location
                http.delete(target, timeout=TIMEOUT_SECONDS, verify=verify)
    except requests.RequestException as exc:
        raise RegistryUnavailable(detail=f"{type(exc).__name__}: {exc}") from exc
    return f"a push token signed by buildsvc (key {key.kid[:14]}...) is accepted"


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
    # With a scope: buildsvc answers an anonymous request without one 401 (docker login).
    query = {"scope": f"repository:{SCRATCH_REPOSITORY}:pull"}
    if info.get("service"):
        query["service"] = info["service"]
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
        proved = await asyncio.to_thread(_try_push, settings)
    except TokenRefused:
        bundle = key_store(settings).bundle_path
        return Check(
            "registry",
            problem=f"{settings.registry} refuses tokens signed by buildsvc",
            fix=f"point the registry's auth.token.rootcertbundle at {bundle} (buildsvc admin "
            "registry-config prints it) and restart the registry",
        )
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
    return Check(
        "registry", found=f"{settings.registry}: {proved or f'{who} logs in and may push'}"
    )
