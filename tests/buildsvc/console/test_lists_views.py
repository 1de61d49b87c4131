"""The Builds and Repositories lists over plain HTTP: the Builds page's columns and its
filters kept in the URL, the repositories' last build and search, "cancelled by"."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp.test_utils import TestClient

from buildsvc.console.render import ago
from buildsvc.web.keys import SESSIONMAKER
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo, add_build, add_repository

Client = TestClient[Any, Any]


async def _two_repositories(client: Client, account: AccountInfo) -> tuple[int, int, int]:
    """team/web (a failed build on main, a newer succeeded one on dev) and team/api (none)."""
    async with client.app[SESSIONMAKER].begin() as session:
        web = await add_repository(session, account.id, name="web", source_repository="g/web")
        api = await add_repository(session, account.id, name="api", source_repository="g/api")
        old = await add_build(session, account.id, web.id, status="failed", trigger="api")
        new = await add_build(
            session,
            account.id,
            web.id,
            status="succeeded",
            ref="refs/heads/dev",
            ref_name="dev",
            queued_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3),
        )
        del old
        return web.id, api.id, new.id


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


async def test_builds_page_names_repository_ref_trigger_and_time(
    client: Client, account: AccountInfo
) -> None:
    await sign_in(client, account.token)
    await _two_repositories(client, account)

    page = await (await client.get("/console/builds")).text()

    header = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    for column in ("Repository", "Ref", "Trigger", "Queued"):
        assert f">{column}</th>" in header
    newest, oldest = _rows(page)
    assert "team/web" in newest
    assert "<code>dev</code>" in newest
    assert "3 minutes ago" in newest
    assert '<td data-label="Trigger" class="build-trigger">api</td>' in oldest


async def test_builds_filters_stay_in_the_url(client: Client, account: AccountInfo) -> None:
    await sign_in(client, account.token)
    web, api, _ = await _two_repositories(client, account)

    by_branch = await (await client.get("/console/builds?branch=dev")).text()
    assert len(_rows(by_branch)) == 1
    assert 'id="branch-filter" name="branch" type="search" value="dev"' in by_branch
    by_status = await (await client.get(f"/console/builds?repository={web}&status=failed")).text()
    [row] = _rows(by_status)
    assert "failed" in row
    assert f'<option value="{web}" selected>team/web</option>' in by_status
    assert '<option value="failed" selected>' in by_status
    none = await (await client.get(f"/console/builds?repository={api}")).text()
    assert "No builds match." in none


async def test_repositories_show_last_build_and_search(
    client: Client, account: AccountInfo
) -> None:
    await sign_in(client, account.token)
    _, _, newest = await _two_repositories(client, account)

    page = await (await client.get("/console/repositories")).text()
    web_row, api_row = _rows(page)
    assert f'<a href="/console/builds/{newest}"><span class="badge status-succeeded">' in web_row
    assert "never built" in api_row

    found = await (await client.get("/console/repositories?q=WEB")).text()
    assert [("team/web" in row) for row in _rows(found)] == [True]
    by_source = await (await client.get("/console/repositories?q=g/api")).text()
    assert [("team/api" in row) for row in _rows(by_source)] == [True]
    nothing = await (await client.get("/console/repositories?q=100%25")).text()
    assert "No image repository matches" in nothing  # % is a character, not a wildcard


def test_relative_times_read_plainly() -> None:
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert ago(now - dt.timedelta(seconds=10), now) == "just now"
    assert ago(now - dt.timedelta(minutes=1), now) == "1 minute ago"
    assert ago(now - dt.timedelta(hours=5, minutes=2), now) == "5 hours ago"
    assert ago(now - dt.timedelta(days=1), now) == "1 day ago"
