"""Bitbucket Cloud: ``repo:push`` deliveries, one ``PushEvent`` per entry of
``push.changes``.

Headers: ``X-Event-Key`` (only ``repo:push`` is supported), ``X-Request-UUID``
(delivery id), ``X-Hub-Signature`` (``sha256=<hex>``; the name has no ``-256``).
Bitbucket Cloud sends no file paths and at most 5 commits per change (newest first;
reversed here to the oldest-first order of the other forges), so ``paths_complete``
is always False. A change's ``old`` is null on creation and ``new`` on deletion.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit

from webhooks import _core as c
from webhooks import _events as e
from webhooks._errors import UnsupportedEvent
from webhooks._models import Commit, Event, Provider, PushEvent
from webhooks._signing import check_hub_signature

PROVIDER: Provider = "bitbucket"
REF_KINDS = {"branch": "refs/heads/", "tag": "refs/tags/"}  # Mercurial kinds are skipped


def verify(headers: c.Headers, body: bytes, secret: str) -> None:
    check_hub_signature(PROVIDER, headers, "X-Hub-Signature", body, secret)


def parse(headers: c.Headers, body: bytes) -> list[Event]:
    event = c.require_header(PROVIDER, headers, "X-Event-Key")
    if event != "repo:push":
        raise c.unsupported_event(PROVIDER, event)
    data = c.load_object(PROVIDER, body)
    repo = c.obj(data, "repository")
    full_name = c.string(repo, "full_name")
    if full_name is None:
        raise c.missing_field(PROVIDER, "repository.full_name")
    changes = c.array(c.obj(data, "push"), "changes")
    if changes is None:
        raise c.missing_field(PROVIDER, "push.changes")
    actor = c.obj(data, "actor")
    common = _Common(
        delivery_id=headers.get("x-request-uuid"),
        repository=full_name,
        pusher=c.first(
            c.string(actor, "nickname"),
            c.string(actor, "username"),
            c.string(actor, "display_name"),
        ),
        clone_url=_clone_url(repo, full_name),
    )
    events: list[Event] = []
    for change in changes:
        if isinstance(change, dict) and (push := _change(change, common)) is not None:
            events.append(push)
    if not events:
        raise UnsupportedEvent(
            "bitbucket push without branch or tag changes", provider=PROVIDER, reason="ref"
        )
    return events


class _Common(NamedTuple):
    """What every event of one delivery shares."""

    delivery_id: str | None
    repository: str
    pusher: str | None
    clone_url: str


def _change(change: c.JSONObject, common: _Common) -> PushEvent | None:
    new, old = c.obj(change, "new"), c.obj(change, "old")
    side = new if new is not None else old
    if side is None:
        raise c.missing_field(PROVIDER, "push.changes[].new and .old")
    prefix = REF_KINDS.get(c.string(side, "type") or "")
    if prefix is None:
        return None
    name = c.string(side, "name")
    if name is None:
        raise c.missing_field(PROVIDER, "push.changes[].new.name")
    after = _target_sha(new, "new")
    head = _commit(c.obj(new, "target"))
    commits: list[Commit] = []
    for raw in reversed(c.array(change, "commits") or []):
        commit = head if head is not None and _sha_of(raw) == head.sha else _commit(raw)
        if commit is not None:
            commits.append(commit)
    return e.push_event(
        PROVIDER,
        ref=prefix + name,
        before=_target_sha(old, "old"),
        after=after,
        created=c.flag(change, "created") or old is None,
        deleted=c.flag(change, "closed") or new is None,
        head_commit=head,
        commits=commits,
        paths_known=False,
        delivery_id=common.delivery_id,
        repository=common.repository,
        pusher=common.pusher,
        clone_url=common.clone_url,
    )


def _target_sha(side: c.JSONObject | None, what: str) -> str | None:
    if side is None:
        return None
    target = c.obj(side, "target")
    return c.object_id(PROVIDER, target.get("hash") if target else None, f"{what}.target.hash")


def _sha_of(raw: Any) -> str | None:
    return c.commit_id(raw.get("hash")) if isinstance(raw, dict) else None


def _commit(raw: c.JSONObject | None) -> Commit | None:
    sha = _sha_of(raw)
    if raw is None or sha is None:
        return None
    return Commit(
        sha=sha,
        message=c.string(raw, "message") or "",
        author_name=_author(c.obj(raw, "author")),
        timestamp=c.timestamp(raw.get("date")),
        url=c.http_url(c.string(c.obj(c.obj(raw, "links"), "html"), "href")),
    )


def _author(author: c.JSONObject | None) -> str | None:
    """``{raw: "Name <mail>", user: {...}}``; the docs' sample puts a bare user here."""
    user = c.obj(author, "user") or author
    name = c.first(c.string(user, "display_name"), c.string(user, "nickname"))
    raw = c.string(author, "raw")
    if name is None and raw is not None:
        name = raw.split("<", 1)[0].strip() or None
    return name


def _clone_url(repo: c.JSONObject | None, full_name: str) -> str:
    """Webhook payloads carry no clone links; Bitbucket Cloud clones from the HTML URL.

    ``links.clone`` is used when present (API-shaped repositories); the HTML link only
    when it is this repository's page, else the canonical bitbucket.org URL.
    """
    links = c.obj(repo, "links")
    for link in c.array(links, "clone") or []:
        url = c.http_url(link.get("href")) if isinstance(link, dict) else None
        if url is not None and link.get("name") in ("https", "http"):
            return url
    html = c.http_url(c.string(c.obj(links, "html"), "href"))
    if html is not None:
        try:
            if urlsplit(html).path.strip("/").lower() == full_name.lower():
                return html.rstrip("/") + ".git"
        except ValueError:  # malformed host part
            pass
    return f"https://bitbucket.org/{full_name}.git"
