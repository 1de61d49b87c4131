"""Bitbucket Server / Data Center REST 1.0 answers to the models of ``sources/base.py``.

Repositories are named ``PROJECTKEY/slug``. Clone URLs lose the ``user@`` the server
puts in them for the signed-in user.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from buildsvc.errors import InvalidInput
from buildsvc.sources.base import Hook, Namespace, SourceRepository
from buildsvc.sources.bitbucket.cloud_models import without_userinfo
from buildsvc.sources.common import as_dict, field_str
from buildsvc.sources.failures import UnexpectedAnswer

SHA_RE = re.compile(r"[0-9a-f]{40}")
_KEY = re.compile(r"~?[A-Za-z0-9_.-]+")  # project keys (~USER for personal projects)
_SLUG = re.compile(r"[A-Za-z0-9_.-]+")


def project_path(key: str) -> str:
    if key in (".", "..") or not _KEY.fullmatch(key):
        raise InvalidInput(detail=f"{key!r} is not a Bitbucket Server project key")
    return f"/projects/{quote(key, safe='')}"


def repo_path(full_path: str) -> str:
    """``/projects/{key}/repos/{slug}`` for ``KEY/slug``."""
    key, _, slug = full_path.partition("/")
    if not _SLUG.fullmatch(slug) or slug in (".", ".."):
        raise InvalidInput(detail=f"{full_path!r} is not a Bitbucket Server repository (KEY/slug)")
    return f"{project_path(key)}/repos/{quote(slug, safe='')}"


def _links(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    links = data.get("links")
    found = links.get(name) if isinstance(links, dict) else None
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def project(data: object) -> Namespace:
    answer = as_dict(data, "a project")
    key = field_str(answer, "key", "a project")
    return Namespace(path=key, name=str(answer.get("name") or key), kind="project")


def repository(data: object, default_branch: str | None = None) -> SourceRepository:
    repo = as_dict(data, "a repository")
    key = field_str(as_dict(repo.get("project"), "a repository's project"), "key", "a project")
    slug = field_str(repo, "slug", "a repository")
    clone = next((c.get("href") for c in _links(repo, "clone") if c.get("name") == "http"), None)
    if not clone:
        raise UnexpectedAnswer("answered a repository without an http clone link")
    web = next((c.get("href") for c in _links(repo, "self") if c.get("href")), None)
    return SourceRepository(
        id=field_str(repo, "id", "a repository"),
        full_path=f"{key}/{slug}",
        name=field_str(repo, "name", "a repository"),
        clone_url=without_userinfo(str(clone)),
        default_branch=default_branch,
        private=repo.get("public") is not True,
        web_url=str(web) if web else None,
    )


def hook(data: object) -> Hook:
    answer = as_dict(data, "a webhook")
    return Hook(
        id=field_str(answer, "id", "a webhook"),
        url=field_str(answer, "url", "a webhook"),
        enabled=answer.get("active") is not False,
    )


def sha(data: object, key: str, what: str) -> str:
    value = field_str(as_dict(data, what), key, what)
    if not SHA_RE.fullmatch(value):
        raise UnexpectedAnswer(f"answered {what} with a commit id that is not a sha")
    return value
