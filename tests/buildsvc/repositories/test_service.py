"""Creating, changing and deleting image repositories, with hooks on forgesim GitLab."""

from __future__ import annotations

from typing import Any

import gitlab as python_gitlab
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from buildsvc.bindings import service as bindings
from buildsvc.bindings.access import SourceAccess
from buildsvc.bindings.errors import SourceNotBound
from buildsvc.errors import SOURCE_ERROR_RESPONSE_MESSAGE, NotFound, SourceErrorResponse
from buildsvc.registry import namespaces
from buildsvc.repositories import queries, service
from buildsvc.repositories.errors import InvalidRule, RepositoryExists
from buildsvc.repositories.schemas import RepositoryCreate, RepositoryPatch, RuleIn
from buildsvc.sources import Credentials
from buildsvc.store.models import Account, ImageRepository
from buildsvc.web.keys import CIPHER, PROVIDERS, SESSIONMAKER, SETTINGS
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    forge_fixture,
    gitlab_fixture,
    served_client,
    served_settings,
)
from tests.conftest import TestAccount as Tenant

REDIS_DB = 4


def access_of(client: Client) -> SourceAccess:
    app = client.app
    return SourceAccess(app[SESSIONMAKER], app[CIPHER], app[PROVIDERS], app[SETTINGS])


async def bound(client: Client, account: Tenant, gitlab: GitLabEnv) -> SourceAccess:
    access = access_of(client)
    creds = Credentials("gitlab", gitlab.forge.url, gitlab.username, gitlab.token)
    await bindings.bind(access, account.id, creds)
    return access


def spec(gitlab: GitLabEnv, name: str = "app", **fields: Any) -> RepositoryCreate:
    body: dict[str, Any] = {
        "namespace": "team",
        "name": name,
        "source": {"provider": "gitlab", "repository": gitlab.project},
    }
    body.update(fields)
    return RepositoryCreate.model_validate(body)


def forge_hooks(gitlab: GitLabEnv, project: str | None = None) -> list[Any]:
    api = python_gitlab.Gitlab(gitlab.forge.url, private_token=gitlab.token)
    return list(api.projects.get(project or gitlab.project).hooks.list(get_all=True))


async def gitlab_count(client: Client, account: Tenant) -> int:
    async with client.app[SESSIONMAKER]() as session:
        row = await session.get(Account, account.id)
        assert row is not None
        return row.gitlab_repository_count


async def test_create_registers_a_push_hook(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = await bound(client, account, gitlab)
    repo = await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)

    [hook] = forge_hooks(gitlab)
    settings = client.app[SETTINGS]
    assert hook.url == f"{settings.public_url}/webhooks/gitlab/{repo.hook_key}"
    assert (hook.push_events, hook.tag_push_events, hook.enable_ssl_verification) == (
        True,
        True,
        True,
    )
    assert repo.forge_hook_id == str(hook.id)
    assert len(client.app[CIPHER].decrypt(repo.hook_secret_encrypted)) >= 32
    assert (repo.source_repository, repo.default_branch) == (gitlab.project, "main")
    assert await gitlab_count(client, account) == 1


async def test_default_rules(client: Client, account: Tenant, gitlab: GitLabEnv) -> None:
    access = await bound(client, account, gitlab)
    repo = await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    assert [(r.type, r.pattern, r.tag) for r in repo.rules] == [
        ("branch", "main", "latest"),
        ("tag", "/.+/", "{tag}"),
    ]


async def test_hook_refused_leaves_nothing_behind(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    gitlab.forge.admin.create_repository("acme", "readonly", members={"alice": "developer"})
    gitlab.forge.admin.create_namespace("other", members={"alice": "developer"})
    gitlab.forge.admin.create_repository("other", "lib")
    access = await bound(client, account, gitlab)
    source = {"provider": "gitlab", "repository": "other/lib"}

    with pytest.raises(SourceErrorResponse) as info:
        await service.create_repository(
            access, account.id, spec(gitlab, source=source), namespaces.claim
        )

    assert (info.value.message, info.value.status) == (SOURCE_ERROR_RESPONSE_MESSAGE, 422)
    assert "Settings" in (info.value.detail or "")
    assert (
        await queries.list_repositories(client.app[SESSIONMAKER], account.id, offset=0, limit=9)
    )[1] == 0
    assert await gitlab_count(client, account) == 0


async def test_failed_commit_removes_the_hook(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = await bound(client, account, gitlab)

    def fail(session: Session) -> None:
        if any(isinstance(row, ImageRepository) for row in session.identity_map.values()):
            raise RuntimeError("disk full")

    sync_maker = client.app[SESSIONMAKER].kw.get("sync_session_class", Session)
    event.listen(sync_maker, "before_commit", fail)
    try:
        with pytest.raises(RuntimeError):
            await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    finally:
        event.remove(sync_maker, "before_commit", fail)
    assert forge_hooks(gitlab) == []
    assert await gitlab_count(client, account) == 0


async def test_duplicate_name_is_refused_without_a_hook(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = await bound(client, account, gitlab)
    await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    with pytest.raises(RepositoryExists):
        await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    assert len(forge_hooks(gitlab)) == 1
    assert await gitlab_count(client, account) == 1


async def test_unbound_provider_and_bad_rules_are_refused(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    with pytest.raises(SourceNotBound):
        await service.create_repository(
            access_of(client), account.id, spec(gitlab), namespaces.claim
        )
    access = await bound(client, account, gitlab)
    bad = [{"type": "branch", "pattern": "main", "tag": "{nope}"}]
    with pytest.raises(InvalidRule) as info:
        await service.create_repository(
            access, account.id, spec(gitlab, rules=bad), namespaces.claim
        )
    assert (info.value.detail or "").startswith("rules[0].tag")
    assert forge_hooks(gitlab) == []


async def test_patch_replaces_rules_and_auto_build(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = await bound(client, account, gitlab)
    repo = await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    rule = RuleIn(type="tag", pattern=r"/v(?P<v>\d+)/", tag="{v},stable", no_cache=True)
    patch = RepositoryPatch(auto_build=False, rules=[rule])
    changed = await service.update_repository(access, account.id, repo.id, patch)
    again = await queries.get_repository(client.app[SESSIONMAKER], account.id, repo.id)
    for current in (changed, again):
        assert current.auto_build is False
        assert [(r.type, r.tag, r.no_cache) for r in current.rules] == [("tag", "{v},stable", True)]


async def test_delete_removes_the_hook_and_frees_the_slot(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = await bound(client, account, gitlab)
    repo = await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    done = await service.delete_repository(access, account.id, repo.id)
    assert (done.hook_removed, done.detail) == (True, None)
    assert forge_hooks(gitlab) == []
    assert await gitlab_count(client, account) == 0
    with pytest.raises(NotFound):
        await queries.get_repository(client.app[SESSIONMAKER], account.id, repo.id)
    async with client.app[SESSIONMAKER]() as session:
        assert (await session.execute(select(ImageRepository))).first() is None


async def test_delete_reports_a_hook_it_could_not_remove(
    client: Client, account: Tenant, gitlab: GitLabEnv
) -> None:
    access = await bound(client, account, gitlab)
    repo = await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    gitlab.forge.admin.set_fault(r"/hooks/", method="DELETE", status=503)
    done = await service.delete_repository(access, account.id, repo.id)
    assert done.hook_removed is False
    assert done.detail
    assert await gitlab_count(client, account) == 0


async def test_other_accounts_see_nothing(
    client: Client, account: Tenant, gitlab: GitLabEnv, make_account: Any
) -> None:
    access = await bound(client, account, gitlab)
    repo = await service.create_repository(access, account.id, spec(gitlab), namespaces.claim)
    other = await make_account("mallory")
    with pytest.raises(NotFound):
        await queries.get_repository(client.app[SESSIONMAKER], other.id, repo.id)
    with pytest.raises(NotFound):
        await service.update_repository(
            access, other.id, repo.id, RepositoryPatch(auto_build=False)
        )
    with pytest.raises(NotFound):
        await service.delete_repository(access, other.id, repo.id)
    assert len(forge_hooks(gitlab)) == 1
