"""A bound forge and the console's create-repository form, for the repository pages' tests."""

from __future__ import annotations

from tests.common.console_session import sign_in
from tests.common.factories import AccountInfo
from tests.common.gitlab_env import Client, GitLabEnv

SECRET = "npm_s3cr3t-value"


async def bound(client: Client, account: AccountInfo, gitlab: GitLabEnv) -> str:
    csrf = await sign_in(client, account.token)
    response = await client.post(
        "/console/sources/gitlab/bind",
        data={
            "csrf_token": csrf,
            "url": gitlab.forge.url,
            "username": "alice",
            "token": gitlab.token,
        },
    )
    assert response.status == 200
    return csrf


def create_form(csrf: str, build_args: str, secrets: str) -> list[tuple[str, str]]:
    """What the browser posts: one rule, keyed 1, with no-cache ticked."""
    return [
        ("csrf_token", csrf),
        ("provider", "gitlab"),
        ("source_namespace", "acme"),
        ("source_repository", "acme/app"),
        ("image_namespace", "team"),
        ("image_name", "app"),
        ("auto_build", "on"),
        ("rule_key", "1"),
        ("rule_type", "branch"),
        ("rule_pattern", "main"),
        ("rule_tag", "latest"),
        ("rule_dockerfile", "Dockerfile"),
        ("rule_context", "."),
        ("rule_build_args", build_args),
        ("rule_secret_build_args", secrets),
        ("rule_no_cache", "1"),
        ("rule_include_paths", "src/**"),
        ("rule_ignore_paths", "*.md\r\ndocs/"),
    ]
