"""Binding, listing and unbinding GitLab accounts against forgesim (service level)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import gitlab as python_gitlab
import pytest

from buildsvc.bindings import service
from buildsvc.bindings.access import SourceAccess, expiry_warning
from buildsvc.bindings.errors import SourceNotBound
from buildsvc.errors import (
    SOURCE_ERROR_RESPONSE_MESSAGE,
    Conflict,
    SourceErrorResponse,
    SourceUnreachable,
)
from buildsvc.sources import Credentials
from buildsvc.store.models import ImageRepository, SourceBinding
from buildsvc.web.keys import CIPHER, PROVIDERS, SESSIONMAKER, SETTINGS
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    forge_fixture,
    gitlab_fixture,
    link,
    served_client,
    served_settings,
)
from tests.common.servers import free_port
from tests.conftest import TestAccount as Tenant

REDIS_DB = 3


def access_of(client: Client) -> SourceAccess:
    app = client.app
    return SourceAccess(app[SESSIONMAKER], app[CIPHER], app[PROVIDERS], app[SETTINGS])


def credentials(gitlab: GitLabEnv, **changes: Any) -> Credentials:
    values: dict[str, Any] = {
        "provider": "gitlab",
        "url": gitlab.forge.url,
        "username": gitlab.username,
        "token": gitlab.token,
    }
    values.update(changes)
    return Credentials(**values)


async def stored(client: Client, account_id: int) -> SourceBinding:
    async with client.app[SESSIONMAKER]() as session:
        row = await session.get(SourceBinding, 1)
        assert row is not None
        assert row.account_id == account_id
        return row


async def test_bind_stores_the_token_encrypted(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    view = await service.bind(access_of(client), account.id, credentials(gitlab))
    row = await stored(client, account.id)
    assert view.row.username == "alice"
    assert row.token_last4 == gitlab.token[-4:]
    assert gitlab.token not in row.token_encrypted
    assert client.app[CIPHER].decrypt(row.token_encrypted) == gitlab.token
    assert "api" in row.scopes
    assert row.status == "ok"


async def test_expiring_token_warns(client: Client, account: Tenant, gitlab: GitLabEnv) -> None:
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)
    token = gitlab.forge.admin.create_token("alice", ["api"], expires_at=soon.isoformat())
    view = await service.bind(access_of(client), account.id, credentials(gitlab, token=token))
    assert view.row.expires_at == soon
    [listed] = await service.list_bindings(access_of(client), account.id)
    assert any(soon.isoformat() in warning for warning in listed.warnings)


def test_expiry_warning_window() -> None:
    today = dt.date(2024, 1, 1)
    assert expiry_warning(None, today, 14) is None
    assert expiry_warning(dt.date(2024, 2, 1), today, 14) is None
    assert "in 14 days" in (expiry_warning(dt.date(2024, 1, 15), today, 14) or "")
    assert "today" in (expiry_warning(today, today, 14) or "")
    assert "expired" in (expiry_warning(dt.date(2023, 12, 1), today, 14) or "")


async def test_refused_binding_is_422_with_the_documented_message(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    with pytest.raises(SourceErrorResponse) as info:
        await service.bind(access_of(client), account.id, credentials(gitlab, token="x" * 26))
    assert info.value.status == 422
    assert info.value.message == SOURCE_ERROR_RESPONSE_MESSAGE
    assert info.value.detail
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnreachable) as unreachable:
        await service.bind(access_of(client), account.id, credentials(gitlab, url=url))
    assert unreachable.value.status == 422
    assert await service.list_bindings(access_of(client), account.id) == []


async def test_binding_again_renews_the_token(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = access_of(client)
    await service.bind(access, account.id, credentials(gitlab))
    fresh = gitlab.forge.admin.create_token("alice", ["api"])
    await service.bind(access, account.id, credentials(gitlab, token=fresh))
    [view] = await service.list_bindings(access, account.id)
    assert view.row.token_last4 == fresh[-4:]


async def test_another_instance_is_refused_while_repositories_link(
    client: Client, account: Tenant, gitlab: GitLabEnv, auth_headers: dict[str, str]
) -> None:
    access = access_of(client)
    await service.bind(access, account.id, credentials(gitlab))
    await link(client, auth_headers, gitlab)
    other = gitlab.forge.url.replace("127.0.0.1", "localhost")
    with pytest.raises(Conflict) as info:
        await service.bind(access, account.id, credentials(gitlab, url=other))
    assert info.value.code == "SOURCE_IN_USE"


async def test_unbind_removes_our_hooks_and_forgets_the_token(
    client: Client, account: Tenant, gitlab: GitLabEnv, auth_headers: dict[str, str]
) -> None:
    access = access_of(client)
    await service.bind(access, account.id, credentials(gitlab))
    first = await link(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab)
    project = python_gitlab.Gitlab(gitlab.forge.url, private_token=gitlab.token).projects.get(
        gitlab.project
    )
    project.hooks.create({"url": "http://127.0.0.1:9/theirs", "push_events": True})
    assert len(project.hooks.list()) == 3

    result = await service.unbind(access, account.id, "gitlab")

    assert (result.hooks_removed, result.hooks_not_removed) == (2, [])
    assert [h.url for h in project.hooks.list()] == ["http://127.0.0.1:9/theirs"]
    assert await service.list_bindings(access, account.id) == []
    async with client.app[SESSIONMAKER]() as session:
        kept = await session.get(ImageRepository, first["id"])
        assert kept is not None
        assert kept.forge_hook_id is None
    with pytest.raises(SourceNotBound):
        await access.client_for(account.id, "gitlab")


async def test_unbind_lists_hooks_it_could_not_remove(
    client: Client, account: Tenant, gitlab: GitLabEnv, auth_headers: dict[str, str]
) -> None:
    access = access_of(client)
    await service.bind(access, account.id, credentials(gitlab))
    repo = await link(client, auth_headers, gitlab, name="stuck")
    gitlab.forge.admin.set_fault(r"/hooks/", method="DELETE", status=500)

    result = await service.unbind(access, account.id, "gitlab")

    assert result.hooks_removed == 0
    [left] = result.hooks_not_removed
    assert (left.repository, left.source_repository) == ("team/stuck", gitlab.project)
    assert left.hook_id == repo["hook"]["id"]
    assert left.detail
    assert await service.list_bindings(access, account.id) == []


async def test_pickers_follow_pagination(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = access_of(client)
    await service.bind(access, account.id, credentials(gitlab))
    for number in range(130):
        gitlab.forge.admin.create_repository("acme", f"svc-{number:03d}")
    namespaces = await service.list_namespaces(access, account.id, "gitlab")
    assert "acme" in {n.path for n in namespaces}
    found = await service.list_source_repositories(access, account.id, "gitlab", "acme")
    assert len(found) == 131
    assert {r.full_path for r in found} >= {gitlab.project, "acme/svc-129"}
