"""A repository's notifications page in the console over plain HTTP: add (the secret shown
once), a refused URL, disable (shown with why), enable, send test, delete, tenancy."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from buildsvc.web.keys import SESSIONMAKER
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo, add_repository

Client = TestClient[Any, Any]


async def test_add_disable_enable_test_delete(client: Client, account: AccountInfo) -> None:
    csrf = await sign_in(client, account.token)
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id, namespace="acme", name="app")
    base = f"/console/repositories/{repository.id}/notifications"
    form = {"csrf_token": csrf, "kind": "webhook", "url": "http://127.0.0.1:9/hook"}

    empty = await client.get(base)
    assert empty.status == 200
    assert "Add a target" in await empty.text()
    added = await client.post(base, data={**form, "events": "build.failed"})
    text = await added.text()
    assert added.status == 200
    secret = re.search(r'id="created-secret".*?<code>(whsec_[^<]+)</code>', text, re.S)
    assert secret is not None
    target = re.search(r'id="target-(\d+)"', text)
    assert target is not None
    one = f"{base}/{target[1]}"
    assert "Events: build.failed" in text
    assert secret[1] not in await (await client.get(base)).text()  # shown once

    refused = await client.post(base, data={**form, "url": "http://169.254.169.254/"})
    assert refused.status == 400
    assert "NOTIFICATION_URL_NOT_ALLOWED" in await refused.text()

    for action in ("disable", "test"):
        token = {"csrf_token": csrf}
        done = await client.post(f"{one}/{action}", data=token, allow_redirects=False)
        assert (done.status, done.headers["Location"]) == (303, base)
    page = await (await client.get(base)).text()
    assert "disabled by a user" in page
    assert "<td>notification.test</td>" in page
    enabled = await client.post(f"{one}/enable", data={"csrf_token": csrf})
    assert "disabled by a user" not in await enabled.text()
    deleted = await client.post(f"{one}/delete", data={"csrf_token": csrf})
    assert f'id="target-{target[1]}"' not in await deleted.text()


async def test_another_accounts_repository_is_not_found(
    client: Client, account: AccountInfo, make_account: Callable[..., Awaitable[AccountInfo]]
) -> None:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id)
    other = await make_account("mallory")
    await sign_in(client, other.token)

    page = await client.get(f"/console/repositories/{repository.id}/notifications")

    assert page.status == 404
