"""``tls_self_signed``: clients refuse the certificate by default and accept it with the CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

import forgesim
from forgesim import Forge
from tests.forgesim.conftest import World, seed


@pytest.fixture
def tls_forge(tmp_path: Path) -> Iterator[tuple[Forge, World]]:
    with forgesim.running("gitlab", tmp_path / "forge", tls_self_signed=True) as forge:
        yield forge, seed(forge)


def test_urls_and_ca_file(tls_forge: tuple[Forge, World]) -> None:
    forge, _ = tls_forge
    assert forge.url.startswith("https://127.0.0.1:")
    assert forge.ca_file == forge.data_dir / "ca.pem"
    assert forge.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_python_gitlab_refuses_by_default(tls_forge: tuple[Forge, World]) -> None:
    forge, world = tls_forge
    with pytest.raises(requests.exceptions.SSLError):
        gitlab.Gitlab(forge.url, private_token=world.tokens["alice"]).auth()


def test_python_gitlab_accepts_the_ca_file(tls_forge: tuple[Forge, World]) -> None:
    forge, world = tls_forge
    client = gitlab.Gitlab(
        forge.url, private_token=world.tokens["alice"], ssl_verify=str(forge.ca_file)
    )
    client.auth()
    assert client.user is not None
    assert client.user.username == "alice"
    assert client.projects.get("acme/app").http_url_to_repo.startswith("https://")


def test_localhost_name_verifies_too(tls_forge: tuple[Forge, World]) -> None:
    forge, world = tls_forge
    url = forge.api_url.replace("127.0.0.1", "localhost") + "/user"
    headers = {"PRIVATE-TOKEN": world.tokens["bob"]}
    resp = requests.get(url, headers=headers, verify=str(forge.ca_file), timeout=5)
    assert resp.json()["username"] == "bob"


def test_git_over_https(tls_forge: tuple[Forge, World], git: Any, tmp_path: Path) -> None:
    forge, world = tls_forge
    url = forge.git_url_with_token("acme/app", world.tokens["alice"])
    refused = git("clone", url, str(tmp_path / "a"), check=False)
    assert refused.returncode != 0
    assert "certificate" in refused.stderr.lower()
    git("clone", "-q", url, str(tmp_path / "b"), env_extra={"GIT_SSL_CAINFO": str(forge.ca_file)})
