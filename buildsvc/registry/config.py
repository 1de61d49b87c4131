"""The Distribution config.yml buildsvc's registry runs with (``admin registry-config``).

Token auth against this API's ``/v2/token`` (realm, service, issuer and the certificate
bundle of ``signing``), deletes enabled, and a notifications endpoint at
``/registry/events`` whose Authorization header carries the events secret (also kept
under the data directory, created on first use). The secret is written into the file;
it never appears in a process's arguments.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from buildsvc.config import Settings
from buildsvc.files import write_once
from buildsvc.registry.server import key_store, registry_dir

EVENTS_PATH = "/registry/events"
EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"


def events_secret(settings: Settings) -> str:
    if settings.registry_events_secret is not None:
        return settings.registry_events_secret.get_secret_value()
    path = registry_dir(settings) / "events-secret"
    if not path.exists():
        write_once(path, (secrets.token_urlsafe(32) + "\n").encode("ascii"))
    return path.read_text().strip()


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar, quoted


def render(settings: Settings, addr: str, storage: Path) -> str:
    store = key_store(settings)
    store.ensure()
    public = settings.public_url.rstrip("/")
    secret = events_secret(settings)
    lines = [
        "# Written by `buildsvc admin registry-config`: token auth against buildsvc.",
        "version: 0.1",
        "log:",
        "  level: info",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {_q(str(storage.resolve()))}",
        "  delete:",
        "    enabled: true",
        "  cache:",
        "    blobdescriptor: inmemory",
        "http:",
        f"  addr: {_q(addr)}",
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
        "auth:",
        "  token:",
        f"    realm: {_q(public + '/v2/token')}",
        f"    service: {_q(settings.registry_service)}",
        f"    issuer: {_q(settings.registry_token_issuer)}",
        f"    rootcertbundle: {_q(str(store.bundle_path))}",
        "notifications:",
        "  events:",
        "    includereferences: true",
        "  endpoints:",
        "    - name: buildsvc",
        f"      url: {_q(public + EVENTS_PATH)}",
        "      headers:",
        f"        Authorization: [{_q('Bearer ' + secret)}]",
        "      timeout: 2s",
        "      threshold: 5",
        "      backoff: 1s",
        "      ignoredmediatypes:",
        "        - application/octet-stream",
        "",
    ]
    return "\n".join(lines)
