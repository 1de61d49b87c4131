"""Editing a repository's build rules in the console over plain HTTP (no JavaScript): the
form comes pre-filled without secret values, an empty secret value keeps the stored one,
a refused edit comes back with its field marked, and another account's repository is 404."""

from __future__ import annotations

import html
import re
from typing import Any

from buildsvc.repositories import queries
from buildsvc.repositories.rules import PATTERN_HELP
from buildsvc.secret_args import decrypt_secrets
from buildsvc.web.keys import CIPHER, SESSIONMAKER
from tests.buildsvc.console.repository_forms import SECRET, bound, create_form
from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    forge_fixture,
    gitlab_fixture,
    served_client,
    served_settings,
)

REDIS_DB = 11
NEW_SECRET = "n3w-s3cr3t-token"


async def created(client: Client, account: AccountInfo, gitlab: GitLabEnv) -> tuple[str, int]:
    """The session's CSRF token and a repository with one rule holding secret NPM_TOKEN."""
    csrf = await bound(client, account, gitlab)
    response = await client.post(
        "/console/repositories/new",
        data=create_form(csrf, f"NODE_ENV=production\r\nNPM_TOKEN={SECRET}", "NPM_TOKEN"),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    found = re.fullmatch(r"/console/repositories/(\d+)", response.headers["Location"])
    assert found is not None
    return csrf, int(found[1])


def edit_form(csrf: str, rules: list[dict[str, str]]) -> list[tuple[str, str]]:
    """What the browser posts for ``rules``, keyed 1, 2 ... (no_cache: ticked when "1")."""
    data = [("csrf_token", csrf)]
    for key, rule in enumerate(rules, start=1):
        data += [
            ("rule_key", str(key)),
            ("rule_id", rule.get("id", "")),
            ("rule_type", rule.get("type", "branch")),
            ("rule_pattern", rule.get("pattern", "")),
            ("rule_tag", rule.get("tag", "")),
            ("rule_dockerfile", rule.get("dockerfile", "Dockerfile")),
            ("rule_context", rule.get("context", ".")),
            ("rule_build_args", rule.get("build_args", "")),
            ("rule_secret_build_args", rule.get("secret_build_args", "")),
            ("rule_include_paths", rule.get("include_paths", "")),
            ("rule_ignore_paths", rule.get("ignore_paths", "")),
        ]
        if rule.get("no_cache") == "1":
            data.append(("rule_no_cache", str(key)))
    return data


async def stored_rules(client: Client, account: AccountInfo, repository_id: int) -> list[Any]:
    """The rules as stored, secret values decrypted (the API masks them)."""
    sessionmaker = client.server.app[SESSIONMAKER]
    repo = await queries.get_repository(sessionmaker, account.id, repository_id)
    cipher = client.server.app[CIPHER]
    for rule in repo.rules:  # detached: the change stays in this test
        rule.build_args = decrypt_secrets(cipher, rule.build_args, rule.secret_build_args)
    return list(repo.rules)


async def api_rules(client: Client, account: AccountInfo, repository_id: int) -> list[Any]:
    response = await client.get(
        f"/api/v1/repositories/{repository_id}",
        headers={"Authorization": f"Bearer {account.token}"},
    )
    assert response.status == 200
    rules: list[Any] = (await response.json())["rules"]
    return rules


def field(page: str, tag: str, element_id: str) -> str:
    found = re.search(rf'<{tag} id="{element_id}"[^>]*>', page)
    assert found is not None, element_id
    return found[0]


def textarea(page: str, element_id: str) -> str:
    found = re.search(rf'<textarea id="{element_id}"[^>]*>([^<]*)</textarea>', page)
    assert found is not None, element_id
    return html.unescape(found[1])


async def test_the_form_is_prefilled_without_the_secret_and_an_edit_changes_the_rules(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf, repository_id = await created(client, account, gitlab)
    repo_page = await (await client.get(f"/console/repositories/{repository_id}")).text()
    assert f'href="/console/repositories/{repository_id}/rules">Edit rules</a>' in repo_page

    response = await client.get(f"/console/repositories/{repository_id}/rules")
    assert response.status == 200
    page = await response.text()
    assert SECRET not in page
    [stored] = await stored_rules(client, account, repository_id)
    assert f'name="rule_id" value="{stored.id}"' in page
    assert 'value="main"' in field(page, "input", "rule-pattern-1")
    assert textarea(page, "rule-build-args-1") == "NODE_ENV=production\nNPM_TOKEN="
    assert 'value="NPM_TOKEN"' in field(page, "input", "rule-secret-build-args-1")
    assert re.search(r'name="rule_no_cache" value="1"[^>]*checked', page)
    assert textarea(page, "rule-ignore-paths-1") == "*.md\ndocs/"
    assert "leave <code>NAME=</code> empty to keep a secret" in page  # the hint says so
    assert '<label for="rule-build-args-1">Build args</label>' in page

    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(
            csrf,
            [
                {
                    "id": str(stored.id),
                    "pattern": "develop",
                    "tag": "dev-{short_sha}",
                    "build_args": "NODE_ENV=development",
                    "include_paths": "app/**",
                },
                {"type": "tag", "pattern": "/v(?P<version>.+)/", "tag": "{version}"},
            ],
        ),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == f"/console/repositories/{repository_id}"
    first, second = await api_rules(client, account, repository_id)
    assert (first["type"], first["pattern"], first["tag"]) == (
        "branch",
        "develop",
        "dev-{short_sha}",
    )
    assert first["build_args"] == {"NODE_ENV": "development"}
    assert first["secret_build_args"] == []
    assert first["no_cache"] is False
    assert first["include_paths"] == ["app/**"]
    assert first["ignore_paths"] == []
    assert (second["type"], second["pattern"], second["tag"]) == (
        "tag",
        "/v(?P<version>.+)/",
        "{version}",
    )
    page = await (await client.get(response.headers["Location"])).text()
    assert "<code>develop</code>" in page


async def test_an_empty_secret_value_keeps_the_stored_one_and_a_typed_one_replaces_it(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf, repository_id = await created(client, account, gitlab)
    [stored] = await stored_rules(client, account, repository_id)
    rule = {
        "id": str(stored.id),
        "pattern": "main",
        "tag": "latest,stable",
        "build_args": "NODE_ENV=production\r\nNPM_TOKEN=",  # as pre-filled
        "secret_build_args": "NPM_TOKEN",
    }
    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(csrf, [rule]),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    [kept] = await stored_rules(client, account, repository_id)
    assert kept.tag == "latest,stable"
    assert kept.build_args == {"NODE_ENV": "production", "NPM_TOKEN": SECRET}
    assert kept.secret_build_args == ["NPM_TOKEN"]
    [shown] = await api_rules(client, account, repository_id)
    assert shown["build_args"] == {"NODE_ENV": "production", "NPM_TOKEN": "****"}
    for path in (
        f"/console/repositories/{repository_id}",
        f"/console/repositories/{repository_id}/rules",
    ):
        assert SECRET not in await (await client.get(path)).text()

    # Kept only for the rule it was stored with: a new rule's empty value stays empty.
    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(csrf, [{**rule, "id": str(kept.id)}, {**rule, "id": "", "pattern": "next"}]),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    first, second = await stored_rules(client, account, repository_id)
    assert first.build_args["NPM_TOKEN"] == SECRET
    assert second.build_args["NPM_TOKEN"] == ""

    # A typed value replaces the stored one.
    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(
            csrf, [{**rule, "id": str(first.id), "build_args": f"NPM_TOKEN={NEW_SECRET}"}]
        ),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    [replaced] = await stored_rules(client, account, repository_id)
    assert replaced.build_args == {"NPM_TOKEN": NEW_SECRET}
    assert (
        NEW_SECRET
        not in await (await client.get(f"/console/repositories/{repository_id}/rules")).text()
    )


async def test_a_refused_edit_is_shown_again_with_its_field_marked_and_changes_nothing(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf, repository_id = await created(client, account, gitlab)
    [stored] = await stored_rules(client, account, repository_id)
    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(
            csrf,
            [
                {
                    "id": str(stored.id),
                    "pattern": "main",
                    "build_args": f"NPM_TOKEN={NEW_SECRET}",
                    "secret_build_args": "NPM_TOKEN",
                },
                {"pattern": "develop", "dockerfile": "../Dockerfile"},
            ],
        ),
    )
    assert response.status == 400
    page = await response.text()
    assert 'id="rules-error"' in page
    assert "INVALID_RULE" in page
    assert "Rule 2, Dockerfile: must not leave the repository" in page
    dockerfile = field(page, "input", "rule-dockerfile-2")
    assert 'aria-invalid="true"' in dockerfile
    assert 'aria-describedby="rules-error"' in dockerfile
    assert 'value="../Dockerfile"' in dockerfile
    assert "aria-invalid" not in field(page, "input", "rule-dockerfile-1")
    # The typed secret is not sent back; the page says to type it again.
    assert NEW_SECRET not in page
    assert SECRET not in page
    assert textarea(page, "rule-build-args-1") == "NPM_TOKEN="
    assert "type the new secret values again" in page
    assert f'name="rule_id" value="{stored.id}"' in page
    # Nothing changed.
    [unchanged] = await stored_rules(client, account, repository_id)
    assert unchanged.build_args == {"NODE_ENV": "production", "NPM_TOKEN": SECRET}

    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(csrf, [{"pattern": "main", "build_args": "A=1", "secret_build_args": "B"}]),
    )
    assert response.status == 400
    page = await response.text()
    assert "Rule 1, secret build args: &#39;B&#39; is not in build_args" in page
    assert 'aria-invalid="true"' in field(page, "input", "rule-secret-build-args-1")
    assert re.search(r'<details class="rule-options" id="rule-options-1" open>', page)


async def test_the_form_needs_the_csrf_token(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf, repository_id = await created(client, account, gitlab)
    data = [(k, v) for k, v in edit_form(csrf, [{"pattern": "other"}]) if k != "csrf_token"]
    response = await client.post(
        f"/console/repositories/{repository_id}/rules", data=data, allow_redirects=False
    )
    assert response.status == 403
    [rule] = await stored_rules(client, account, repository_id)
    assert rule.pattern == "main"


async def test_another_accounts_repository_is_404(
    client: Client,
    account: AccountInfo,
    gitlab: GitLabEnv,
    make_account: Any,
    aiohttp_client: Any,
) -> None:
    _, repository_id = await created(client, account, gitlab)
    other = await make_account()
    intruder: Client = await aiohttp_client(client.server)  # its own cookie jar
    csrf = await sign_in(intruder, other.token)
    response = await intruder.get(f"/console/repositories/{repository_id}/rules")
    assert response.status == 404
    assert SECRET not in await response.text()
    response = await intruder.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(csrf, [{"pattern": "stolen"}]),
        allow_redirects=False,
    )
    assert response.status == 404
    assert SECRET not in await response.text()
    [rule] = await stored_rules(client, account, repository_id)
    assert rule.pattern == "main"


async def test_the_form_explains_the_pattern_syntax_and_the_page_warns_of_doubtful_rules(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf, repository_id = await created(client, account, gitlab)
    page = await (await client.get(f"/console/repositories/{repository_id}/rules")).text()
    assert html.escape(PATTERN_HELP, quote=False) in page

    response = await client.post(
        f"/console/repositories/{repository_id}/rules",
        data=edit_form(csrf, [{"type": "tag", "pattern": "/v*/", "tag": "{tag}"}]),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    repo_page = await (await client.get(f"/console/repositories/{repository_id}")).text()
    warning = re.search(r'<p class="alert warning rule-warning"[^>]*>([^<]*)</p>', repo_page)
    assert warning is not None
    assert "the tag pattern &#39;/v*/&#39; matches none of the sample" in warning[1]
