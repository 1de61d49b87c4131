"""Repository webhooks (``/hooks``, ids are ``{uuid}``) with an optional secret.

They need the ``webhook`` scope and repository admin rights. A hook with a secret
signs deliveries with ``X-Hub-Signature: sha256=<hex>``; the secret is never shown
back, only ``secret_set``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim.models import Hook, Repository, now_iso
from forgesim.providers.bitbucket import lookup
from forgesim.providers.bitbucket.replies import Reply, bad_request, error, page_response

EVENTS = frozenset(
    {
        "repo:push",
        "repo:fork",
        "repo:updated",
        "repo:imported",
        "repo:created",
        "repo:commit_comment_created",
        "repo:commit_status_created",
        "repo:commit_status_updated",
        "issue:created",
        "issue:updated",
        "issue:comment_created",
        "pullrequest:created",
        "pullrequest:updated",
        "pullrequest:approved",
        "pullrequest:unapproved",
        "pullrequest:fulfilled",
        "pullrequest:rejected",
        "pullrequest:comment_created",
        "pullrequest:comment_updated",
        "pullrequest:comment_deleted",
        "pullrequest:changes_request_created",
        "pullrequest:changes_request_removed",
    }
)


def _guard(request: web.Request) -> Repository:
    repo = lookup.repository(request, "webhook")
    lookup.require_admin(request, repo)
    return repo


def _hook(request: web.Request, repo: Repository) -> Hook:
    ident = request.match_info["uid"].strip("{}")
    for hook in lookup.core_of(request).state.repo_hooks(repo):
        if hook.uuid == ident:
            return hook
    raise Reply(error(404, "Webhook not found"))


def _apply(hook: Hook, raw: dict[str, Any], creating: bool) -> None:
    if creating or "url" in raw:
        url = str(raw.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise bad_request("url: Enter a valid URL.", {"url": ["Enter a valid URL."]})
        hook.url = url
    if creating or "events" in raw:
        events = raw.get("events")
        if not isinstance(events, list) or not events or not set(events) <= EVENTS:
            raise bad_request("events: Invalid events.", {"events": ["Invalid events."]})
        hook.attrs["events"] = sorted(set(events))
    if "description" in raw:
        hook.attrs["description"] = str(raw["description"] or "")
    if "active" in raw:
        hook.active = bool(raw["active"])
    if "skip_cert_verification" in raw:
        hook.ssl_verify = not bool(raw["skip_cert_verification"])
    if "secret" in raw:
        hook.secret = str(raw["secret"] or "")


async def list_hooks(request: web.Request) -> web.Response:
    repo = _guard(request)
    shapes = lookup.shapes(request)
    hooks = lookup.core_of(request).state.repo_hooks(repo)
    return page_response(request, hooks, lambda h: shapes.hook(repo, h))


async def create_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    raw = await lookup.body(request)
    draft = Hook(id=0, repo_id=repo.id, url="", secret="", created_at=now_iso(), uuid="")
    _apply(draft, raw, creating=True)
    state = lookup.core_of(request).state
    hook = state.new_hook(repo, draft.url, draft.secret, draft.ssl_verify)
    hook.attrs.update(draft.attrs)
    hook.active = draft.active
    state.changed()
    body = lookup.shapes(request).hook(repo, hook)
    return web.json_response(body, status=201, headers={"Location": body["links"]["self"]["href"]})


async def get_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    return web.json_response(lookup.shapes(request).hook(repo, _hook(request, repo)))


async def update_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    hook = _hook(request, repo)
    _apply(hook, await lookup.body(request), creating=False)
    lookup.core_of(request).state.changed()
    return web.json_response(lookup.shapes(request).hook(repo, hook))


async def delete_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    hook = _hook(request, repo)
    state = lookup.core_of(request).state
    del state.hooks[hook.id]
    state.changed()
    return web.Response(status=204)
