"""Replication reads our token-auth registry with tokens it mints itself: pull only, for
the repository a request names, signed with the key the registry trusts (the services'
registry and its key under var/registry)."""

from __future__ import annotations

import hashlib
import secrets

import jwt
import pytest
import requests

from buildsvc.config import Settings
from buildsvc.registry.server import key_store, service_token
from buildsvc.registry.tokens import Access
from buildsvc.replication.connect import open_session
from buildsvc.replication.errors import CopyFailed
from buildsvc.replication.registry_api import RegistryClient
from buildsvc.replication.source import PullTokens, source_endpoint
from tests.common.services import Services, ensure_services

pytestmark = pytest.mark.e2e


@pytest.fixture
def services() -> Services:
    return ensure_services()


@pytest.fixture
def token_settings(settings: Settings, services: Services) -> Settings:
    return settings.model_copy(
        update={
            "registry": services.registry,
            "registry_key_dir": services.key_dir,
            "registry_username": None,
            "registry_password": None,
        }
    )


def _put_blob(settings: Settings, repository: str, data: bytes) -> str:
    """A blob pushed with a push token we sign (the test's setup, as a build would)."""
    key = key_store(settings).ensure()
    access = [Access("repository", repository, ("pull", "push"))]
    headers = {"Authorization": "Bearer " + service_token(settings, key, access).token}
    base = f"http://{settings.registry}/v2/{repository}"
    upload = requests.post(f"{base}/blobs/uploads/", headers=headers, timeout=10)
    assert upload.status_code == 202, upload.text
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = upload.headers["Location"]
    target = location if location.startswith("http") else f"http://{settings.registry}{location}"
    done = requests.put(target, params={"digest": digest}, data=data, headers=headers, timeout=10)
    assert done.status_code == 201, done.text
    return digest


def test_the_source_endpoint_holds_no_password_in_token_mode(token_settings: Settings) -> None:
    endpoint = source_endpoint(token_settings)

    assert endpoint.username is None
    assert endpoint.password is None
    assert isinstance(endpoint.tokens, PullTokens)


def test_minted_tokens_grant_pull_only_on_the_named_repository(token_settings: Settings) -> None:
    tokens = source_endpoint(token_settings).tokens
    assert tokens is not None
    minted = tokens(["repository:acme/app:pull,push,delete", "registry:catalog:*"])
    # The claims only: the registry checks the signature in the next test.
    claims = jwt.decode(minted.token, options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "acme/app", "actions": ["pull"]}]
    assert claims["sub"] == "$buildsvc"
    assert 0 < minted.expires_in <= 60


async def test_replication_reads_our_registry_and_may_not_write(token_settings: Settings) -> None:
    repository = f"buildsvc-test/replication-{secrets.token_hex(4)}"
    digest = _put_blob(token_settings, repository, secrets.token_bytes(64))
    scope = [f"repository:{repository}:pull"]

    async with open_session(None, None) as http:
        client = RegistryClient(source_endpoint(token_settings), http)
        found = await client.request("HEAD", f"/v2/{repository}/blobs/{digest}", scopes=scope)
        found.release()
        assert found.status == 200
        with pytest.raises(CopyFailed) as refused:  # a pull token opens no upload
            await client.request(
                "POST", f"/v2/{repository}/blobs/uploads/", scopes=[f"repository:{repository}:push"]
            )
    assert "401" in str(refused.value.detail)
