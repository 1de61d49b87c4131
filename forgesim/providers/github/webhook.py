"""GitHub's ``push``, ``create``, ``delete`` and ``ping`` deliveries.

One ``push`` per updated ref (GitHub never batches refs), plus ``create`` / ``delete``
for new or removed branches and tags when the hook subscribes to them (``events``:
``push`` by default, ``*`` for all). Payload keys follow the published deliveries
(``forge-examples/github/webhooks``): in ``push`` the repository's ``created_at`` and
``pushed_at`` are Unix seconds and its ``url`` is the HTML page; elsewhere they are
ISO strings and the API URL. Headers: ``X-GitHub-Event``, ``X-GitHub-Delivery``,
``X-GitHub-Hook-ID``, ``X-Hub-Signature`` (sha1) and ``X-Hub-Signature-256`` when the
hook has a secret, ``User-Agent: GitHub-Hookshot/...``; ``form`` hooks send
``payload=<json>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from forgesim import gitrepo
from forgesim.core import Core
from forgesim.gitrepo import Commit
from forgesim.models import Hook, Repository, User, parse_iso
from forgesim.provider import Outgoing
from forgesim.providers.github.auth import ENTERPRISE_VERSION
from forgesim.providers.github.shapes_git import GitShapes
from forgesim.pushes import Push, RefChange

Json = dict[str, Any]
HOOKSHOT = "GitHub-Hookshot/6b1e3a4"
ZEN = (
    "Design for failure.",
    "Keep it logically awesome.",
    "Speak like a human.",
    "Approachable is better than simple.",
    "Mind your words, they are important.",
    "Non-blocking is better than blocking.",
    "Favor focus over features.",
    "Anything added dilutes everything else.",
    "Practicality beats purity.",
    "Avoid administrative distraction.",
    "Responsive is better than fast.",
    "It's not fully shipped until it's fast.",
)


def wants(hook: Hook, event: str) -> bool:
    events = hook.attrs.get("events", ["push"])
    return "*" in events or event in events


def outgoing(core: Core, hook: Hook, repo: Repository, event: str, payload: Json) -> Outgoing:
    document = json.dumps(payload, separators=(",", ":"))
    form = hook.attrs.get("content_type", "json") == "form"
    body = urlencode({"payload": document}).encode() if form else document.encode()
    host = core.base_url.split("://", 1)[-1].rsplit(":", 1)[0]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
        "User-Agent": HOOKSHOT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": str(hook.id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": str(repo.id),
        "X-GitHub-Enterprise-Version": ENTERPRISE_VERSION,
        "X-GitHub-Enterprise-Host": host,
    }
    if hook.secret:
        key = hook.secret.encode()
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, "sha256").hexdigest()
    return Outgoing(event, headers, body)


def _common(shapes: GitShapes, repo: Repository, sender: User) -> Json:
    """``repository`` (API style), ``organization`` when org-owned, and ``sender``."""
    ns = shapes.core.state.namespaces[repo.namespace_id]
    out: Json = {"repository": shapes.repo_base(repo)}
    if ns.kind == "group":
        out["organization"] = shapes.org_simple(ns)
    out["sender"] = shapes.user_simple(sender)
    return out


def ping(core: Core, repo: Repository, hook: Hook, sender: User) -> Outgoing:
    shapes = GitShapes(core)
    payload = {
        "zen": random.choice(ZEN),  # noqa: S311 - a proverb, not a secret
        "hook_id": hook.id,
        "hook": shapes.hook(repo, hook),
        **_common(shapes, repo, sender),
    }
    return outgoing(core, hook, repo, "ping", payload)


def _epoch(stamp: str) -> int:
    return int(parse_iso(stamp).timestamp())


def _push_repository(shapes: GitShapes, repo: Repository) -> Json:
    out = shapes.repo_base(repo)
    ns = shapes.core.state.namespaces[repo.namespace_id]
    owner = out["owner"]
    user = shapes.core.state.users.get(ns.owner_id) if ns.owner_id else None
    out["owner"] = {"name": owner["login"], "email": user.email if user else None, **owner}
    out["url"] = out["html_url"]
    out["created_at"] = _epoch(repo.created_at)
    out["pushed_at"] = int(dt.datetime.now(dt.UTC).timestamp())
    out.update({"stargazers": 0, "master_branch": repo.default_branch})
    if ns.kind == "group":
        out["organization"] = ns.path
    out["custom_properties"] = {}
    return out


def _person(shapes: GitShapes, name: str, email: str) -> Json:
    out = {"name": name, "email": email}
    known = shapes.by_email(email)
    if known is not None:
        out["username"] = known.username
    return out


def _commit(
    shapes: GitShapes, repo: Repository, c: Commit, tree: str, distinct: bool = True
) -> Json:
    return {
        "id": c.id,
        "tree_id": tree,
        "distinct": distinct,
        "message": c.message.rstrip("\n"),
        "timestamp": c.committed_date,
        "url": shapes.html(f"{repo.full_path}/commit/{c.id}"),
        "author": _person(shapes, c.author_name, c.author_email),
        "committer": _person(shapes, c.committer_name, c.committer_email),
        "added": list(c.added),
        "removed": list(c.removed),
        "modified": list(c.modified),
    }


def git_facts(git_dir: Path, shas: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Tree ids of ``shas`` and the branch tips, read synchronously: ``format_push`` is a
    plain function, and two short git calls per hook and push cost a few milliseconds."""

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

    trees: dict[str, str] = {}
    if shas:
        listed = git("log", "--no-walk=unsorted", "--format=%H %T", *sorted(set(shas)))
        for line in listed.split("\n"):
            sha, _, tree = line.partition(" ")
            trees[sha] = tree
    tips: dict[str, str] = {}
    for line in git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/").split("\n"):
        name, _, sha = line.partition(" ")
        if sha:
            tips[name] = sha
    return trees, tips


def push_payload(
    core: Core,
    push: Push,
    change: RefChange,
    trees: dict[str, str],
    tips: dict[str, str],
    seen: set[str],
) -> Json:
    """One ref's ``push``; a commit another ref of the same push already listed is not
    ``distinct``."""
    shapes = GitShapes(core)
    repo = push.repo
    html = shapes.html(repo.full_path)
    head = change.head
    base_ref = None
    if change.created and head is not None:
        others = sorted(n for n, sha in tips.items() if sha == head.id and n != change.ref)
        base_ref = others[0] if others else None
    if change.created:
        compare = f"{html}/compare/{change.short_name}"
        if change.commits and change.is_branch:
            compare = f"{html}/commit/{change.after}"
    else:
        compare = f"{html}/compare/{change.before[:12]}...{change.after[:12]}"
    listed = () if change.is_tag else change.commits  # tag pushes list no commits
    payload = {
        "ref": change.ref,
        "before": change.before,
        "after": change.after,
        "repository": _push_repository(shapes, repo),
        "pusher": {"name": push.pusher.username, "email": push.pusher.email},
        **{k: v for k, v in _common(shapes, repo, push.pusher).items() if k != "repository"},
        "created": change.created,
        "deleted": change.deleted,
        "forced": False,
        "base_ref": base_ref,
        "compare": compare,
        "commits": [
            _commit(shapes, repo, c, trees.get(c.id, ""), c.id not in seen) for c in listed
        ],
        "head_commit": _commit(shapes, repo, head, trees.get(head.id, "")) if head else None,
    }
    seen.update(c.id for c in listed)
    return payload


def ref_payload(core: Core, push: Push, change: RefChange) -> Json:
    """``create`` / ``delete``: the short ref name and its type."""
    shapes = GitShapes(core)
    out: Json = {"ref": change.short_name, "ref_type": "tag" if change.is_tag else "branch"}
    if change.created:
        out["master_branch"] = push.repo.default_branch
        out["description"] = push.repo.description or None
    out["pusher_type"] = "user"
    out.update(_common(shapes, push.repo, push.pusher))
    return out


def format_push(core: Core, push: Push, hook: Hook) -> list[Outgoing]:
    if not hook.active:
        return []
    shas = [c.id for change in push.changes for c in (*change.commits, change.head) if c]
    trees, tips = git_facts(core.repo_dir(push.repo), shas)
    seen: set[str] = set()
    out = []
    for change in push.changes:
        if not (change.is_branch or change.is_tag):
            continue
        if wants(hook, "push"):
            payload = push_payload(core, push, change, trees, tips, seen)
            out.append(outgoing(core, hook, push.repo, "push", payload))
        for event, happened in (("create", change.created), ("delete", change.deleted)):
            if happened and change.before != change.after and wants(hook, event):
                payload = ref_payload(core, push, change)
                out.append(outgoing(core, hook, push.repo, event, payload))
    return out
