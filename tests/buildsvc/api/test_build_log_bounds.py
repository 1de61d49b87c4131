"""Where a client resumes a build log: out-of-range positions are a 400, never a 500.

``Last-Event-ID`` is whatever a browser or proxy sends back; the seq column is a 32-bit
integer, and Python's ``int()`` refuses strings over 4,300 digits with a ValueError.
"""

from __future__ import annotations

import pytest

from tests.buildsvc.api.build_logs_env import new_build
from tests.common.factories import AccountInfo
from tests.common.gitlab_env import Client

Headers = dict[str, str]


@pytest.mark.parametrize(
    "last_event_id",
    ["2147483648", "99999999999", "9" * 5000, "-1", "1e3", "0x10", "4 5"],
    ids=["int32+1", "11-digits", "5000-digits", "negative", "exponent", "hex", "space"],
)
async def test_bad_last_event_id_is_400(
    client: Client, auth_headers: Headers, account: AccountInfo, last_event_id: str
) -> None:
    build_id = await new_build(client, account, "succeeded", 3)
    for follow in ("false", "true"):
        response = await client.get(
            f"/api/v1/builds/{build_id}/logs?follow={follow}",
            headers={**auth_headers, "Last-Event-ID": last_event_id},
        )
        body = await response.json()
        assert (response.status, body["error"]["code"]) == (400, "VALIDATION_ERROR"), follow
        assert "Last-Event-ID" in body["error"]["detail"]


@pytest.mark.parametrize("after", ["2147483648", "9" * 5000, "-1"])
async def test_bad_after_is_400(
    client: Client, auth_headers: Headers, account: AccountInfo, after: str
) -> None:
    build_id = await new_build(client, account, "succeeded", 3)
    response = await client.get(
        f"/api/v1/builds/{build_id}/logs?after={after}", headers=auth_headers
    )
    assert response.status == 400


async def test_the_largest_seq_is_accepted(
    client: Client, auth_headers: Headers, account: AccountInfo
) -> None:
    build_id = await new_build(client, account, "succeeded", 3)
    response = await client.get(
        f"/api/v1/builds/{build_id}/logs", headers={**auth_headers, "Last-Event-ID": "2147483647"}
    )
    page = await response.json()
    assert (response.status, page["items"], page["next_after"]) == (200, [], 2147483647)
