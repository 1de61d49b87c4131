"""GitLab API answers (v3 and v4 JSON) to the forge-neutral models of ``sources/base.py``.

Both API versions hand over plain dicts; anything missing or of the wrong type raises
``UnexpectedAnswer``, which the boundary reports as an error response.
"""

from __future__ import annotations

import datetime as dt
import re

from buildsvc.sources.base import Hook, Namespace, SourceRepository
from buildsvc.sources.common import as_dict, field_str
from buildsvc.sources.failures import UnexpectedAnswer

SHA_RE = re.compile(r"[0-9a-f]{40}")


def commit_sha(data: object, what: str) -> str:
    sha = field_str(as_dict(data, what), "id", what)
    if not SHA_RE.fullmatch(sha):
        raise UnexpectedAnswer(f"answered {what} with a commit id that is not a sha")
    return sha


def repository(data: object) -> SourceRepository:
    project = as_dict(data, "a project")
    if "visibility" in project:
        private = project["visibility"] != "public"
    else:  # API v3: a public flag and a numeric visibility level (20 = public)
        private = not project.get("public", False) and project.get("visibility_level") != 20
    return SourceRepository(
        id=field_str(project, "id", "a project"),
        full_path=field_str(project, "path_with_namespace", "a project"),
        name=field_str(project, "name", "a project"),
        clone_url=field_str(project, "http_url_to_repo", "a project"),
        default_branch=project.get("default_branch") or None,
        private=private,
        web_url=project.get("web_url") or None,
    )


def group_namespace(data: object) -> Namespace:
    group = as_dict(data, "a group")
    path = field_str(group, "full_path", "a group") if "full_path" in group else None
    path = path or field_str(group, "path", "a group")
    return Namespace(path=path, name=str(group.get("name") or path), kind="group")


def hook(data: object) -> Hook:
    answer = as_dict(data, "a hook")
    # Newer GitLab disables failing hooks: alert_status "disabled" or
    # "temporarily_disabled", and disabled_until while a temporary disable lasts.
    alert = answer.get("alert_status")
    disabled_until = answer.get("disabled_until")
    enabled = alert in (None, "executable") and not disabled_until
    return Hook(
        id=field_str(answer, "id", "a hook"),
        url=field_str(answer, "url", "a hook"),
        enabled=enabled,
    )


def parse_date(value: object) -> dt.date | None:
    """GitLab's ``expires_at``: "2025-01-31" (or a timestamp on some versions)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise UnexpectedAnswer("answered an expiry date that is not a date")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise UnexpectedAnswer("answered an expiry date that is not a date") from None
