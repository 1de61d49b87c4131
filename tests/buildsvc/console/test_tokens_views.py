"""The console's API Tokens page over plain HTTP: create (shown once), list, revoke."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo

Client = TestClient[Any, Any]


async def test_create_shows_the_token_once_and_revoke_ends_it(
    client: Client, account: AccountInfo
) -> None:
    csrf = await sign_in(client, account.token)
    listed = await (await client.get("/console/tokens")).text()
    assert "(this session)" in listed  # the token this console signed in with

    response = await client.post(
        "/console/tokens",
        data={"csrf_token": csrf, "name": "laptop", "expires_in_days": "30"},
    )
    assert response.status == 200
    found = re.search(
        r'<code class="secret" id="new-token-value">(bsv_[^<]+)</code>', await response.text()
    )
    assert found is not None
    token = found.group(1)
    assert (
        await client.get("/api/v1/builds", headers={"Authorization": f"Bearer {token}"})
    ).status == 200

    again = await (await client.get("/console/tokens")).text()
    assert token not in again  # shown once
    row = re.search(
        r'<tr id="token-(\d+)"><td>laptop</td><td data-label="Token"><code>…' + token[-4:], again
    )
    assert row is not None

    revoked = await client.post(
        f"/console/tokens/{row.group(1)}/revoke", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert (revoked.status, revoked.headers["Location"]) == (303, "/console/tokens?revoked=1")
    assert (
        await client.get("/api/v1/builds", headers={"Authorization": f"Bearer {token}"})
    ).status == 401


async def test_a_refused_name_comes_back_with_the_form(
    client: Client, account: AccountInfo
) -> None:
    csrf = await sign_in(client, account.token)
    response = await client.post("/console/tokens", data={"csrf_token": csrf, "name": " "})
    assert response.status == 400
    assert "INVALID_TOKEN_NAME" in await response.text()


async def test_revoking_needs_the_csrf_token(client: Client, account: AccountInfo) -> None:
    await sign_in(client, account.token)
    response = await client.post("/console/tokens/1/revoke", data={}, allow_redirects=False)
    assert response.status == 403
