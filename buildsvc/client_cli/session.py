"""Opening the API client from the saved login, and finding repositories by name.

``repo_argument`` is the ``REPO`` every command takes (an id or ``namespace/name``); the
shell completes it with the account's repository names, asked of the API with a short
timeout, and offers nothing when there is no login or no answer.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

from buildsvc.client_cli.apiclient import TIMEOUT_SECONDS, ApiClient, ApiError
from buildsvc.client_cli.config import ConfigError, load

COMPLETION_TIMEOUT_SECONDS = 3.0  # a shell waits for this on every TAB


def open_client(*, timeout: float = TIMEOUT_SECONDS) -> ApiClient:
    login = load()
    return ApiClient(login.url, login.token, timeout=timeout)


def find_repository(client: ApiClient, reference: str) -> dict[str, Any]:
    """A repository by id (``12``) or by image name (``team/app``)."""
    if reference.isdigit():
        repository: dict[str, Any] = client.get(f"/api/v1/repositories/{reference}")
        return repository
    for item in client.all_items("/api/v1/repositories"):
        if f"{item['namespace']}/{item['name']}" == reference:
            return dict(item)
    raise ApiError(
        404,
        "REPOSITORY_NOT_FOUND",
        f"No image repository named {reference!r}.",
        "give its id or namespace/name; `buildsvc repos list` shows them",
    )


def complete_repository(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    try:
        client = open_client(timeout=COMPLETION_TIMEOUT_SECONDS)
    except ConfigError:
        return []
    try:
        names = [f"{r['namespace']}/{r['name']}" for r in client.all_items("/api/v1/repositories")]
    except ApiError:
        return []
    finally:
        client.close()
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


repo_argument = click.argument("repo", metavar="REPO", shell_complete=complete_repository)
