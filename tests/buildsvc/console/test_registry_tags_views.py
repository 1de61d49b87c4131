"""The Registry page's Delete button on a tag, against a real token-auth registry whose
realm is the test's app: asked again first, then the tag (and every tag of its image)
is gone from the registry and the page; errors (no such tag, the registry down) are
shown on the page."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from buildsvc.config import Settings
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo
from tests.common.gitlab_env import Client, served_client  # noqa: F401  (fixture)
from tests.common.registries import DOCKER_MANIFEST, RegistryHttp, layers, put_image
from tests.common.servers import free_port
from tests.common.token_registry import serve_registry, stop_process

pytestmark = pytest.mark.e2e

PASSWORD = "a registry password"


@pytest.fixture(name="settings")
def registry_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "public_url": f"http://127.0.0.1:{free_port()}",
            "registry": f"127.0.0.1:{free_port()}",
        }
    )


@pytest.fixture
async def registry(
    client: Client, settings: Settings, tmp_path: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """The registry's process, started once the app answers at its realm."""
    process = await asyncio.to_thread(serve_registry, settings, tmp_path / "registry")
    try:
        yield process
    finally:
        await asyncio.to_thread(stop_process, process)


def tag_rows(page: str) -> list[str]:
    return re.findall(r"<tr><td><code>([^<]+)</code></td><td><code title=\"sha256:", page)


async def test_a_tag_is_deleted_after_confirmation_with_every_tag_of_its_image(
    client: Client, settings: Settings, account: AccountInfo, registry: subprocess.Popen[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {account.token}"}
    created = await client.post(
        "/api/v1/repositories", json={"namespace": "team", "name": "app"}, headers=headers
    )
    repository_id = (await created.json())["id"]
    password = await client.put(
        "/api/v1/registry/password", json={"password": PASSWORD}, headers=headers
    )
    assert password.status == 204
    ours = RegistryHttp(f"http://{settings.registry}", "alice", PASSWORD)
    image = await asyncio.to_thread(put_image, ours, "team/app", "v1", layers(1, 256))
    await asyncio.to_thread(ours.put_manifest, "team/app", "stable", image.raw, DOCKER_MANIFEST)
    await asyncio.to_thread(put_image, ours, "team/app", "v2", layers(1, 256))
    csrf = await sign_in(client, account.token)

    page = await (await client.get("/console/registry")).text()
    assert sorted(tag_rows(page)) == ["stable", "v1", "v2"]
    action = f"/console/registry/repositories/{repository_id}/tags/v1/delete"
    assert f'action="{action}"' in page
    assert 'data-confirm="Delete team/app:v1?' in page

    # Without JavaScript the page asks first; nothing is deleted yet.
    asked = await client.post(action, data={"csrf_token": csrf, "confirmed": ""})
    text = await asked.text()
    assert asked.status == 200
    assert 'id="confirm-delete"' in text
    assert "Delete team/app:v1?" in text
    assert sorted(tag_rows(text)) == ["stable", "v1", "v2"]

    deleted = await client.post(action, data={"csrf_token": csrf, "confirmed": "yes"})
    text = await deleted.text()
    assert deleted.status == 200
    assert "Deleted tag v1 and stable, tags of the same image." in text
    assert tag_rows(text) == ["v2"]
    gone = await asyncio.to_thread(ours.manifest, "team/app", "v1")
    assert gone[0] == 404  # from the registry itself
    assert (await asyncio.to_thread(ours.manifest, "team/app", "v2"))[0] == 200

    again = await client.post(action, data={"csrf_token": csrf, "confirmed": "yes"})
    assert again.status == 404
    assert "TAG_NOT_FOUND" in await again.text()
    forged = await client.post(action, data={"csrf_token": "not-it", "confirmed": "yes"})
    assert forged.status == 403

    await asyncio.to_thread(stop_process, registry)
    down = await client.post(
        f"/console/registry/repositories/{repository_id}/tags/v2/delete",
        data={"csrf_token": csrf, "confirmed": "yes"},
    )
    text = await down.text()
    assert down.status == 503
    assert "REGISTRY_UNREACHABLE" in text
    assert tag_rows(text) == ["v2"]  # as last recorded
