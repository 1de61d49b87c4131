"""Bitbucket Server / Data Center: ``repo:refs_changed`` (one ``PushEvent`` per entry
of ``changes``) and the ``diagnostics:ping`` test delivery.

Headers: ``X-Event-Key``, ``X-Request-Id`` (delivery id), ``X-Hub-Signature``
(``sha256=<hex>``). Changes are ``ADD``/``UPDATE``/``DELETE`` with all-zero hashes
marking creation and deletion. The repository is ``PROJECTKEY/slug`` (personal
projects have keys like ``~user``). Older servers send no links and no commits: then
``clone_url`` and ``head_commit`` are None; newer ones add ``links.clone``,
``toCommit`` and up to 5 of the newest ``commits`` (no paths, so ``paths_complete`` is
always False).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from webhooks import _core as c
from webhooks import _events as e
from webhooks._errors import UnsupportedEvent
from webhooks._models import Commit, Event, PingEvent, Provider
from webhooks._signing import check_hub_signature

PROVIDER: Provider = "bitbucket-server"


def verify(headers: c.Headers, body: bytes, secret: str) -> None:
    check_hub_signature(PROVIDER, headers, "X-Hub-Signature", body, secret)


def parse(headers: c.Headers, body: bytes) -> list[Event]:
    event = c.require_header(PROVIDER, headers, "X-Event-Key")
    delivery_id = headers.get("x-request-id")
    if event == "diagnostics:ping":
        # The body ({"test": true}) carries nothing we need: do not fail on it.
        return [
            PingEvent(
                provider=PROVIDER, delivery_id=delivery_id, hook_id=None, zen=None, repository=None
            )
        ]
    if event != "repo:refs_changed":
        raise c.unsupported_event(PROVIDER, event)
    data = c.load_object(PROVIDER, body)
    repo = c.obj(data, "repository")
    key, slug = c.string(c.obj(repo, "project"), "key"), c.string(repo, "slug")
    if key is None or slug is None:
        raise c.missing_field(PROVIDER, "repository.project.key or repository.slug")
    changes = c.array(data, "changes")
    if changes is None:
        raise c.missing_field(PROVIDER, "changes")
    actor = c.obj(data, "actor")
    pusher = c.first(
        c.string(actor, "name"), c.string(actor, "slug"), c.string(actor, "displayName")
    )
    clone_url = _clone_url(repo)
    head = _commit(c.obj(data, "toCommit"))
    # The commit list is per delivery, not per change: only attach it when unambiguous.
    listed = [] if len(changes) != 1 else _commits(c.array(data, "commits"), head)
    events: list[Event] = []
    for change in changes:
        if not isinstance(change, dict):
            continue
        ref = c.first(c.string(change, "refId"), c.string(c.obj(change, "ref"), "id"))
        if ref is None:
            raise c.missing_field(PROVIDER, "changes[].refId")
        if e.split_ref(ref) is None:
            continue  # e.g. refs/notes/*: other changes of the push still count
        change_type = c.string(change, "type")
        after = c.object_id(PROVIDER, change.get("toHash"), "changes[].toHash")
        events.append(
            e.push_event(
                PROVIDER,
                delivery_id=delivery_id,
                repository=f"{key}/{slug}",
                ref=ref,
                before=c.object_id(PROVIDER, change.get("fromHash"), "changes[].fromHash"),
                after=after,
                created=change_type == "ADD",
                deleted=change_type == "DELETE",
                head_commit=head if head is not None and head.sha == after else None,
                commits=listed,
                paths_known=False,
                pusher=pusher,
                clone_url=clone_url,
            )
        )
    if not events:
        raise UnsupportedEvent(
            "bitbucket-server push without branch or tag changes", provider=PROVIDER, reason="ref"
        )
    return events


def _clone_url(repo: c.JSONObject | None) -> str | None:
    for link in c.array(c.obj(repo, "links"), "clone") or []:
        url = c.http_url(link.get("href")) if isinstance(link, dict) else None
        if url is not None and link.get("name") in ("http", "https"):
            return url
    return None


def _commit(raw: Any) -> Commit | None:
    if not isinstance(raw, dict):
        return None
    sha = c.commit_id(raw.get("id"))
    if sha is None:
        return None
    return Commit(
        sha=sha,
        message=c.string(raw, "message") or "",
        author_name=c.string(c.obj(raw, "author"), "name"),
        timestamp=_millis(raw.get("authorTimestamp")),
        url=None,
    )


def _commits(raw: list[Any] | None, head: Commit | None) -> list[Commit]:
    """Newest first in the payload; oldest first here, sharing the head's object."""
    commits: list[Commit] = []
    for item in reversed(raw or []):
        if head is not None and isinstance(item, dict) and c.commit_id(item.get("id")) == head.sha:
            commits.append(head)
        elif (commit := _commit(item)) is not None:
            commits.append(commit)
    return commits


def _millis(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):  # out of datetime's range
        return None
