"""Shared access to the real services started by ``scripts/services.sh``.

Call ``ensure_services()`` from a (session) fixture in tests that need the Docker
engine, the registry or Redis; it returns where they listen. The registry is token auth
(its realm is the API at ``BUILDSVC_PUBLIC_URL``, which tests do not run): a test that
calls it directly signs its own tokens with the key it trusts (settings with
``registry_key_dir=services.key_dir``); a test whose app's users push or pull starts a
registry for that app (``tests.common.token_registry``). ``registry_username``/``_password``
are set only when the stack runs htpasswd (``BUILDSVC_SERVICES_REGISTRY_AUTH=htpasswd``).
It runs the idempotent start script once per test process; when everything already
runs that costs a fraction of a second.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.common.servers import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = ROOT / "scripts" / "services.sh"
# Another checkout's stack on this machine may move the registry (scripts/services.sh).
REGISTRY = f"127.0.0.1:{os.environ.get('BUILDSVC_SERVICES_REGISTRY_PORT', '5000')}"
REGISTRY_USER = "buildsvc"
DOCKER_URL = "unix:///var/run/docker.sock"
BASE_IMAGE = "buildsvc/busybox:latest"


@dataclass(frozen=True)
class Services:
    docker_url: str
    registry: str
    registry_username: str
    registry_password: str
    redis_url: str
    key_dir: Path = ROOT / "var" / "registry"  # the signing keys the registry trusts


@functools.cache
def ensure_services() -> Services:
    """Start (or find running) dockerd, the registry, Redis and the base image."""
    result = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), "start"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/services.sh start failed:\n{result.stdout}\n{result.stderr}")
    # htpasswd mode only: a token-auth registry has no admin password (tests/common/e2e_stack.py).
    password_file = ROOT / "var" / "registry" / "password"
    htpasswd = os.environ.get("BUILDSVC_SERVICES_REGISTRY_AUTH") == "htpasswd"
    password = password_file.read_text().strip() if htpasswd and password_file.exists() else ""
    return Services(
        docker_url=DOCKER_URL,
        registry=REGISTRY,
        registry_username=REGISTRY_USER,
        registry_password=password,
        redis_url=REDIS_URL,
    )
