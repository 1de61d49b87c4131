"""Bitbucket Cloud API 2.0 answers to the forge-neutral models of ``sources/base.py``.

Anything missing or of the wrong type raises ``UnexpectedAnswer`` (an error response at
the boundary). Clone URLs lose the ``user@`` Bitbucket puts in them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from buildsvc.errors import InvalidInput
from buildsvc.sources.base import Hook, Namespace, SourceRepository
from buildsvc.sources.common import as_dict, field_str
from buildsvc.sources.failures import UnexpectedAnswer

SHA_RE = re.compile(r"[0-9a-f]{40}")
_SLUG = re.compile(r"[A-Za-z0-9_.{}-]+")  # workspace and repository slugs, or {uuid}


def segment(value: str, what: str) -> str:
    """One URL path segment from user input (a slug), quoted; never "/" or ".."."""
    if value in (".", "..") or not _SLUG.fullmatch(value):
        raise InvalidInput(detail=f"{value!r} is not a Bitbucket {what}")
    return quote(value, safe="")


def repo_path(full_path: str) -> str:
    """``/repositories/{workspace}/{slug}`` for ``workspace/slug``."""
    workspace, _, slug = full_path.partition("/")
    if not slug:
        raise InvalidInput(detail=f"{full_path!r} is not a Bitbucket repository (workspace/slug)")
    return f"/repositories/{segment(workspace, 'workspace')}/{segment(slug, 'repository')}"


def without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _link(data: dict[str, Any], name: str) -> object:
    links = data.get("links")
    return links.get(name) if isinstance(links, dict) else None


def _clone_url(repo: dict[str, Any]) -> str:
    clones = _link(repo, "clone")
    for clone in clones if isinstance(clones, list) else []:
        if isinstance(clone, dict) and clone.get("name") == "https" and clone.get("href"):
            return without_userinfo(str(clone["href"]))
    raise UnexpectedAnswer("answered a repository without an https clone link")


def repository(data: object) -> SourceRepository:
    repo = as_dict(data, "a repository")
    main = repo.get("mainbranch")
    html = _link(repo, "html")
    return SourceRepository(
        id=field_str(repo, "uuid", "a repository"),
        full_path=field_str(repo, "full_name", "a repository"),
        name=field_str(repo, "name", "a repository"),
        clone_url=_clone_url(repo),
        default_branch=str(main["name"]) if isinstance(main, dict) and main.get("name") else None,
        private=repo.get("is_private") is not False,
        web_url=str(html["href"]) if isinstance(html, dict) and html.get("href") else None,
    )


def workspace(data: object) -> Namespace:
    """A workspace, from ``/user/workspaces`` (an access entry) or ``/workspaces``."""
    entry = as_dict(data, "a workspace")
    inner = as_dict(entry["workspace"], "a workspace") if "workspace" in entry else entry
    slug = field_str(inner, "slug", "a workspace")
    return Namespace(path=slug, name=str(inner.get("name") or slug), kind="workspace")


def hook(data: object) -> Hook:
    answer = as_dict(data, "a hook")
    return Hook(
        id=field_str(answer, "uuid", "a hook"),
        url=field_str(answer, "url", "a hook"),
        enabled=answer.get("active") is not False,
    )


def target_sha(data: object, what: str) -> str:
    """A branch's or tag's ``target.hash``, or a commit's ``hash``."""
    answer = as_dict(data, what)
    commit = as_dict(answer["target"], what) if "target" in answer else answer
    sha = field_str(commit, "hash", what)
    if not SHA_RE.fullmatch(sha):
        raise UnexpectedAnswer(f"answered {what} with a commit id that is not a sha")
    return sha
