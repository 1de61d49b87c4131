"""Reading images back from the test registry's HTTP API (Distribution 2.8, htpasswd or
token auth: a Bearer challenge is answered from its realm with the same login)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import requests

from tests.common.services import Services

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.manifest.v1+json"
)


@dataclass(frozen=True)
class RegistryImage:
    digest: str  # of the manifest, as the registry reports it
    manifest: dict[str, Any]
    config: dict[str, Any]

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("config", {}).get("Labels") or {})

    @property
    def layers(self) -> list[str]:
        return [layer["digest"] for layer in self.manifest["layers"]]


def registry_image(services: Services, reference: str) -> RegistryImage:
    """The manifest and config of ``registry/name:tag`` (or ``@digest``), read over HTTP."""
    path = reference.split("/", 1)[1]
    name, sep, version = path.partition("@")
    if not sep:
        name, _, version = path.rpartition(":")
    auth = (services.registry_username, services.registry_password)
    base = f"http://{services.registry}/v2/{name}"
    headers = {"Accept": MANIFEST_TYPES}
    answer = requests.get(f"{base}/manifests/{version}", auth=auth, headers=headers, timeout=10)
    challenge = answer.headers.get("WWW-Authenticate", "")
    if answer.status_code == 401 and challenge.lower().startswith("bearer "):
        headers["Authorization"] = "Bearer " + _token(challenge, name, auth)
        auth = None  # type: ignore[assignment]
        answer = requests.get(f"{base}/manifests/{version}", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    manifest = json.loads(answer.content)
    blob = requests.get(
        f"{base}/blobs/{manifest['config']['digest']}",
        auth=auth,
        headers={"Authorization": headers["Authorization"]} if auth is None else None,
        timeout=10,
    )
    assert blob.status_code == 200, blob.text
    return RegistryImage(answer.headers["Docker-Content-Digest"], manifest, blob.json())


def _token(challenge: str, name: str, auth: tuple[str, str]) -> str:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    answer = requests.get(
        params["realm"],
        params={"service": params.get("service", ""), "scope": f"repository:{name}:pull"},
        auth=auth,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def stored_answers(services: Services, repository: str, digest: str) -> dict[str, bytes]:
    """What ``repository`` (``registry/name``) serves for ``digest``, as a manifest and as
    a blob: the body of each 200 answer, keyed ``manifest`` or ``blob``."""
    name = repository.split("/", 1)[1]
    auth = (services.registry_username, services.registry_password)
    base = f"http://{services.registry}/v2/{name}"
    headers = {"Accept": MANIFEST_TYPES}
    found = {}
    for kind, path in (("manifest", "manifests"), ("blob", "blobs")):
        answer = requests.get(f"{base}/{path}/{digest}", auth=auth, headers=headers, timeout=10)
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status_code == 401 and challenge.lower().startswith("bearer "):
            headers["Authorization"] = "Bearer " + _token(challenge, name, auth)
            answer = requests.get(f"{base}/{path}/{digest}", headers=headers, timeout=10)
        # A blob asked for as a manifest is an error of its own (500 "unknown"), not 404.
        assert answer.status_code not in (401, 403), answer.text
        if answer.status_code == 200:
            found[kind] = answer.content
    return found
