"""PyGithub objects to the forge-neutral models of ``base.py``.

PyGithub raises ``BadAttributeException`` when an attribute has the wrong JSON type (the
boundary maps it); a missing or empty required value raises ``UnexpectedAnswer`` here.
Attribute reads may complete a lazy object with one GET: the functions below read only
what list answers carry, so a listing costs one request per page.
"""

from __future__ import annotations

import re

from github.Hook import Hook as GithubHook
from github.Repository import Repository

from buildsvc.errors import InvalidInput
from buildsvc.sources.base import Hook, SourceRepository
from buildsvc.sources.failures import UnexpectedAnswer

SHA_RE = re.compile(r"[0-9a-f]{40}")
_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")  # GitHub owner and repository names


def repo_path(full_path: str) -> str:
    """``owner/repo`` as given, or InvalidInput: it becomes part of an API path."""
    parts = full_path.split("/")
    if len(parts) != 2 or any(p in (".", "..") or not _SEGMENT.fullmatch(p) for p in parts):
        raise InvalidInput(detail=f"{full_path!r} is not a GitHub repository path (owner/name)")
    return full_path


def required(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise UnexpectedAnswer(f"answered {what} without a usable value")
    return str(value)


def commit_sha(value: object, what: str) -> str:
    sha = required(value, what)
    if not SHA_RE.fullmatch(sha):
        raise UnexpectedAnswer(f"answered {what} that is not a commit sha")
    return sha


def repository(repo: Repository) -> SourceRepository:
    return SourceRepository(
        id=required(repo.id, "a repository id"),
        full_path=required(repo.full_name, "a repository full_name"),
        name=required(repo.name, "a repository name"),
        clone_url=required(repo.clone_url, "a repository clone_url"),
        default_branch=repo.default_branch or None,
        private=bool(repo.private),
        web_url=repo.html_url or None,
    )


def hook(answer: GithubHook) -> Hook:
    config = answer.config if isinstance(answer.config, dict) else {}
    return Hook(
        id=required(answer.id, "a hook id"),
        url=required(config.get("url"), "a hook config url"),
        enabled=bool(answer.active),
    )
