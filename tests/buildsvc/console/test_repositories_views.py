"""The create-repository form over plain HTTP (no JavaScript): rule options in, a refused
form shown again as typed with the field marked, and the repository page masking secrets."""

from __future__ import annotations

import html
import re

from tests.buildsvc.console.repository_forms import SECRET, bound, create_form
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


async def test_a_refused_rule_is_shown_again_as_typed_with_its_field_marked(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf = await bound(client, account, gitlab)
    typed = f"NODE_ENV=production\r\nNPM_TOKEN={SECRET}"
    response = await client.post(
        "/console/repositories/new", data=create_form(csrf, typed, "NPM_TOKEN, MISSING")
    )
    assert response.status == 400
    page = await response.text()
    assert 'id="create-error"' in page
    assert "Rule 1, secret build args: &#39;MISSING&#39; is not in build_args" in page
    assert "INVALID_RULE" in page
    secret_field = re.search(r'<input id="rule-secret-build-args-1"[^>]*>', page)
    assert secret_field is not None
    assert 'aria-invalid="true"' in secret_field[0]
    assert "create-error" in secret_field[0]  # the error box describes the field
    assert 'value="NPM_TOKEN, MISSING"' in secret_field[0]
    # What the user typed comes back (the options open, the box still ticked), except
    # the secret's value: sent back to the browser, as the bind form's token is not.
    assert re.search(r'<details class="rule-options" id="rule-options-1" open>', page)
    args = re.search(r'name="rule_build_args"[^>]*>([^<]*)</textarea>', page)
    assert args is not None
    assert html.unescape(args[1]) == "NODE_ENV=production\nNPM_TOKEN="
    assert "enter the secret build args&#39; values again" in page
    assert re.search(r'name="rule_no_cache" value="1"[^>]*checked', page)
    assert ">*.md\ndocs/</textarea>" in page
    assert SECRET not in page


async def test_a_bad_line_names_rule_field_and_line(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf = await bound(client, account, gitlab)
    response = await client.post(
        "/console/repositories/new", data=create_form(csrf, "A=1\r\nTOKEN hunter2", "")
    )
    assert response.status == 400
    page = await response.text()
    assert "Rule 1, build args, line 2: write NAME=value" in page
    assert re.search(r'<textarea id="rule-build-args-1"[^>]*aria-invalid="true"', page)


async def test_created_rule_shows_its_options_with_the_secret_masked(
    client: Client, account: AccountInfo, gitlab: GitLabEnv
) -> None:
    csrf = await bound(client, account, gitlab)
    response = await client.post(
        "/console/repositories/new",
        data=create_form(csrf, f"NODE_ENV=production\r\nNPM_TOKEN={SECRET}", "NPM_TOKEN"),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    page = await (await client.get(response.headers["Location"])).text()
    assert SECRET not in page
    assert "2 build args (1 secret), no cache, 3 path filters" in page
    assert "<code>NODE_ENV=production</code>" in page
    assert '<code>NPM_TOKEN=****</code> <span class="badge">secret</span>' in page
    assert "not used: every step runs again" in page
    assert "<code>src/**</code>" in page
    assert "<code>docs/</code>" in page

    api = await client.get(
        "/api/v1/repositories", headers={"Authorization": f"Bearer {account.token}"}
    )
    [rule] = (await api.json())["items"][0]["rules"]
    assert rule["build_args"] == {"NODE_ENV": "production", "NPM_TOKEN": "****"}
    assert rule["no_cache"] is True
    assert rule["ignore_paths"] == ["*.md", "docs/"]
