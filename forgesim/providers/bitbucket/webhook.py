"""Bitbucket Cloud's ``repo:push``: ONE delivery per push, one ``push.changes`` entry
per updated branch or tag.

A change's ``old`` is null on creation and ``new`` on deletion; ``commits`` lists at most
5 new commits, newest first, with ``truncated`` when there were more (tags and
deletions carry none). Headers: ``X-Event-Key: repo:push``, ``X-Hook-UUID``,
``X-Request-UUID``, ``X-Attempt-Number``, ``User-Agent: Bitbucket-Webhooks/2.0`` and,
when the hook has a secret, ``X-Hub-Signature: sha256=<hex HMAC of the body>``.
"""

from __future__ import annotations

import hmac
import json
import subprocess
import uuid
from pathlib import Path

from forgesim import gitrepo
from forgesim.core import Core
from forgesim.gitrepo import Commit
from forgesim.models import Hook, Repository
from forgesim.provider import Outgoing
from forgesim.providers.bitbucket.shapes import Json, href
from forgesim.providers.bitbucket.shapes_git import GitShapes, ref_side
from forgesim.pushes import Push, RefChange

EVENT = "repo:push"
MAX_COMMITS = 5
_FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B")


def old_commits(git_dir: Path, shas: list[str]) -> dict[str, Commit]:
    """The commits refs pointed to before the push (tags peeled), keyed by the old id.

    Read synchronously: ``format_push`` is a plain function, and two short git calls per
    hook and push cost a few milliseconds.
    """
    wanted = sorted(set(shas))
    if not wanted:
        return {}

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", *args],
            env=gitrepo.git_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout

    peeled = git("rev-parse", *(f"{sha}^{{commit}}" for sha in wanted)).split()
    if len(peeled) != len(wanted):
        return {}
    log = git("log", "-z", "--no-walk=unsorted", "--format=" + "%x1f".join(_FIELDS), *peeled)
    found = {}
    for record in log.split("\0"):
        parts = record.split("\x1f", 8)
        if len(parts) == 9:
            sha, parents, an, ae, ad, cn, ce, cd, message = parts
            found[sha.strip()] = Commit(
                sha.strip(), tuple(parents.split()), an, ae, ad, cn, ce, cd, message
            )
    return {sha: found[p] for sha, p in zip(wanted, peeled, strict=True) if p in found}


def _repository(shapes: GitShapes, repo: Repository) -> Json:
    ns = shapes.core.state.namespaces[repo.namespace_id]
    out = shapes.repo_ref(repo)
    out.update(
        {
            "scm": "git",
            "website": "",
            "owner": shapes.owner(ns),
            "workspace": shapes.workspace_ref(ns),
            "is_private": repo.private,
            "project": shapes.project(ns),
            "parent": None,
        }
    )
    return out


def _links(shapes: GitShapes, repo: Repository, change: RefChange) -> Json | None:
    if change.deleted:
        return None
    base = shapes.api(f"/repositories/{repo.full_path}")
    include = f"{base}/commits?include={change.after}"
    if change.created:
        out = {"commits": href(include)}
        if change.is_branch:
            out["html"] = href(shapes.html(f"{repo.full_path}/branch/{change.short_name}"))
        return out
    span = f"{change.after}..{change.before}"
    return {
        "commits": href(f"{include}&exclude={change.before}"),
        "html": href(shapes.html(f"{repo.full_path}/branches/compare/{span}")),
        "diff": href(f"{base}/diff/{span}"),
    }


def _change(shapes: GitShapes, push: Push, change: RefChange, old_head: Json | None) -> Json:
    repo = push.repo
    kind = "tag" if change.is_tag else "branch"
    new = None
    if change.head is not None:
        new = ref_side(shapes, repo, kind, change.short_name, change.head, change.tag_message)
    out: Json = {
        "forced": False,
        "old": old_head,
        "links": _links(shapes, repo, change),
        "truncated": change.total_commits > MAX_COMMITS,
        "commits": [
            shapes.commit(repo, c, with_repo=False) for c in reversed(change.commits[-MAX_COMMITS:])
        ],
        "created": change.created,
        "closed": change.deleted,
        "new": new,
    }
    if out["links"] is None:
        del out["links"]
    if change.deleted or change.is_tag:
        del out["commits"]
    return out


def payload(core: Core, push: Push, olds: dict[str, Commit]) -> Json:
    shapes = GitShapes(core)
    changes = [c for c in push.changes if c.is_branch or c.is_tag]

    def old(change: RefChange) -> Json | None:
        before = olds.get(change.before)
        if change.created or before is None:
            return None
        kind = "tag" if change.is_tag else "branch"
        return ref_side(shapes, push.repo, kind, change.short_name, before, None)

    return {
        "push": {"changes": [_change(shapes, push, c, old(c)) for c in changes]},
        "repository": _repository(shapes, push.repo),
        "actor": shapes.account(push.pusher),
    }


def format_push(core: Core, push: Push, hook: Hook) -> list[Outgoing]:
    if not hook.active or EVENT not in hook.attrs.get("events", []):
        return []
    if not any(c.is_branch or c.is_tag for c in push.changes):
        return []
    befores = [c.before for c in push.changes if not c.created]
    olds = old_commits(core.repo_dir(push.repo), befores)
    body = json.dumps(payload(core, push, olds)).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Bitbucket-Webhooks/2.0",
        "X-Event-Key": EVENT,
        "X-Hook-UUID": hook.uuid,
        "X-Request-UUID": str(uuid.uuid4()),
        "X-Attempt-Number": "1",
    }
    if hook.secret:
        digest = hmac.new(hook.secret.encode(), body, "sha256").hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
    return [Outgoing(EVENT, headers, body)]
