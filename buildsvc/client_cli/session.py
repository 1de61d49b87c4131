"""Opening the API client from the saved login, and finding repositories by name."""

from __future__ import annotations

from typing import Any

from buildsvc.client_cli.apiclient import ApiClient, ApiError
from buildsvc.client_cli.config import load


def open_client() -> ApiClient:
    login = load()
    return ApiClient(login.url, login.token)


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
