"""The core: persistence, the admin API and its guard, the CLI, sync and async starts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import requests
from aiohttp.test_utils import make_mocked_request

import forgesim
from forgesim import AdminError, Forge, admin
from forgesim.models import ROLE_LEVELS, role_level
from tests.forgesim.conftest import World


def test_public_names() -> None:
    assert set(forgesim.__all__) == {
        "AdminClient",
        "AdminError",
        "Forge",
        "ForgeConfig",
        "Outgoing",
        "ProviderSpec",
        "running",
        "serve",
    }


def test_contract_urls(forge: Forge) -> None:
    assert forge.provider == "gitlab"
    assert forge.url.startswith("http://127.0.0.1:")
    assert forge.api_url == forge.url + "/api/v4"
    assert forge.ca_file is None
    assert forge.git_url("g/p") == forge.url + "/g/p.git"


def test_restart_keeps_state(tmp_path: Path, world: World) -> None:
    data = tmp_path / "kept"
    with forgesim.running("gitlab", data) as first:
        first.admin.create_user("zed")
        token = first.admin.create_token("zed", ["api"])
        repo = first.admin.create_repository("zed", "thing", private=False)
    with forgesim.running("gitlab", data) as second:
        resp = requests.get(
            f"{second.api_url}/projects/{repo['id']}", headers={"PRIVATE-TOKEN": token}, timeout=5
        )
        assert resp.json()["path_with_namespace"] == "zed/thing"
        assert second.admin.create_repository("zed", "other")["id"] == repo["id"] + 1
    assert json.loads((data / "state.json").read_text())["counters"]["repo"] == 2


def test_admin_errors(forge: Forge, world: World) -> None:
    cases = [
        (lambda: forge.admin.create_user("alice"), 409),
        (lambda: forge.admin.create_token("nobody", ["api"]), 404),
        (lambda: forge.admin.revoke_token("nope"), 404),
        (lambda: forge.admin.create_namespace("missing/child"), 404),
        (lambda: forge.admin.create_repository("nowhere", "x"), 404),
        (lambda: forge.admin.create_repository("acme", "app"), 409),
        (lambda: forge.admin.create_namespace("g", members={"alice": "wizard"}), 400),
    ]
    for call, status in cases:
        with pytest.raises(AdminError) as caught:
            call()
        assert caught.value.status == status


def test_roles_of_every_forge_map_to_levels() -> None:
    assert role_level("Maintainer") == 40
    assert role_level("REPO_WRITE") == 30
    assert role_level(20) == role_level("20") == 20
    assert min(ROLE_LEVELS.values()) == 10


async def test_admin_guard_rejects_other_hosts() -> None:
    async def handler(request: object) -> object:
        raise AssertionError("must not run")

    transport = mock.Mock()
    transport.get_extra_info.return_value = ("10.1.2.3", 40000)
    request = make_mocked_request("GET", "/_forgesim/deliveries", transport=transport)
    response = await admin.guard(request, handler)
    assert response.status == 403


async def test_async_start(tmp_path: Path) -> None:
    async with forgesim.running("gitlab", tmp_path) as forge:
        assert forge.admin.create_user("amy")["username"] == "amy"


def test_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown provider"), forgesim.running("svn", tmp_path):
        pass


@pytest.mark.parametrize(
    ("provider", "flags", "scheme"),
    [
        ("gitlab", ["--gitlab-mode", "no-introspection"], "http"),
        ("github", ["--tls-self-signed"], "https"),
    ],
)
def test_cli_prints_the_url_and_serves(
    tmp_path: Path, provider: str, flags: list[str], scheme: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "forgesim", "--provider", provider, "--host", "127.0.0.1",
         "--port", "0", "--data", str(tmp_path), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        prefix = f"forgesim {provider} listening on "
        assert line.startswith(f"{prefix}{scheme}://127.0.0.1:")
        url = line.removeprefix(prefix)
        # With TLS, the CA file written to DATA/ca.pem is what a client needs to trust it.
        verify: str | bool = str(tmp_path / "ca.pem") if scheme == "https" else True
        health = requests.get(url + "/_forgesim/health", timeout=5, verify=verify).json()
        assert (health["provider"], health["url"]) == (provider, url)
        if scheme == "https":
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(url + "/_forgesim/health", timeout=5)
            assert health["api_url"] == url + "/api/v3"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()
    assert (tmp_path / "state.json").exists()
