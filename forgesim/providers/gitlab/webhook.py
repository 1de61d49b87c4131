"""GitLab's Push Hook and Tag Push Hook: one delivery per updated ref, per hook.

Payload keys follow captured GitLab deliveries (``forge-examples/gitlab/webhooks``).
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from typing import Any

from forgesim.core import Core
from forgesim.gitrepo import Commit
from forgesim.models import Hook, Repository, User
from forgesim.provider import Outgoing
from forgesim.providers.gitlab import modes
from forgesim.providers.gitlab.shapes import VISIBILITY_LEVEL, Shapes
from forgesim.pushes import Push, RefChange

Json = dict[str, Any]


def _wants(hook: Hook, change: RefChange) -> bool:
    if change.is_tag:
        return bool(hook.attrs.get("tag_push_events", False))
    if not change.is_branch or not hook.attrs.get("push_events", True):
        return False
    pattern = str(hook.attrs.get("push_events_branch_filter") or "")
    return not pattern or fnmatch.fnmatchcase(change.short_name, pattern)


def format_push(core: Core, push: Push, hook: Hook) -> list[Outgoing]:
    version = modes.mode(core).version
    out = []
    for change in push.changes:
        if not _wants(hook, change):
            continue
        event = "Tag Push Hook" if change.is_tag else "Push Hook"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"GitLab/{version}",
            "X-Gitlab-Event": event,
            "X-Gitlab-Event-UUID": str(uuid.uuid4()),
            "X-Gitlab-Webhook-UUID": hook.uuid,
            "X-Gitlab-Instance": core.base_url,
            "Idempotency-Key": str(uuid.uuid4()),
        }
        if hook.secret:
            headers["X-Gitlab-Token"] = hook.secret
        body = json.dumps(payload(core, push.repo, push.pusher, change)).encode()
        out.append(Outgoing(event, headers, body))
    return out


def _project(core: Core, repo: Repository) -> Json:
    ns = core.state.namespaces[repo.namespace_id]
    web, http = core.web_url(repo.full_path), core.git_url(repo.full_path)
    ssh = Shapes(core).ssh_url(repo)
    level = VISIBILITY_LEVEL[repo.visibility]
    return {
        "id": repo.id,
        "name": repo.name,
        "description": repo.description,
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": ssh,
        "git_http_url": http,
        "namespace": ns.name,
        "visibility_level": level,
        "path_with_namespace": repo.full_path,
        "default_branch": repo.default_branch,
        "ci_config_path": None,
        "homepage": web,
        "url": ssh,
        "ssh_url": ssh,
        "http_url": http,
    }


def _commit(core: Core, repo: Repository, c: Commit) -> Json:
    return {
        "id": c.id,
        "message": c.message,
        "timestamp": c.committed_date,
        "url": core.web_url(f"{repo.full_path}/-/commit/{c.id}"),
        "author": {"name": c.author_name, "email": c.author_email},
        "added": list(c.added),
        "modified": list(c.modified),
        "removed": list(c.removed),
    }


def payload(core: Core, repo: Repository, user: User, change: RefChange) -> Json:
    kind = "tag_push" if change.is_tag else "push"
    project = _project(core, repo)
    return {
        "object_kind": kind,
        "event_name": kind,
        "before": change.before,
        "after": change.after,
        "ref": change.ref,
        "checkout_sha": change.head.id if change.head else None,
        "message": change.tag_message,
        "user_id": user.id,
        "user_name": user.name,
        "user_username": user.username,
        "user_email": user.email,
        "user_avatar": Shapes(core).avatar(user),
        "project_id": repo.id,
        "project": project,
        "commits": [_commit(core, repo, c) for c in change.commits],
        "total_commits_count": change.total_commits,
        "repository": {
            "name": repo.name,
            "url": project["ssh_url"],
            "description": repo.description,
            "homepage": project["web_url"],
            "git_http_url": project["git_http_url"],
            "git_ssh_url": project["git_ssh_url"],
            "visibility_level": project["visibility_level"],
        },
    }
