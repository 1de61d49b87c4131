"""Repository webhooks (``/webhooks``) with a secret, and the "Test connection" call
that sends ``diagnostics:ping``. Everything here needs ``REPO_ADMIN``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim.delivery import reset_failures
from forgesim.models import MAINTAINER, Hook, Repository, now_iso
from forgesim.providers.bitbucket_server import lookup, webhook
from forgesim.providers.bitbucket_server.replies import bad_request, json_response, not_found, page

EVENTS = frozenset(
    {
        "repo:refs_changed",
        "repo:modified",
        "repo:forked",
        "repo:comment:added",
        "repo:comment:edited",
        "repo:comment:deleted",
        "pr:opened",
        "pr:from_ref_updated",
        "pr:to_ref_updated",
        "pr:modified",
        "pr:reviewer:updated",
        "pr:reviewer:approved",
        "pr:reviewer:unapproved",
        "pr:reviewer:needs_work",
        "pr:merged",
        "pr:declined",
        "pr:deleted",
        "pr:comment:added",
        "pr:comment:edited",
        "pr:comment:deleted",
        "mirror:repo_synchronized",
    }
)


def _guard(request: web.Request) -> Repository:
    return lookup.repository(request, MAINTAINER)


def _hook(request: web.Request, repo: Repository) -> Hook:
    ident = request.match_info["hook_id"]
    hook = lookup.core_of(request).state.hooks.get(int(ident)) if ident.isdigit() else None
    if hook is None or hook.repo_id != repo.id:
        raise not_found(f"Webhook {ident} does not exist", "webhook.NoSuchWebhookException")
    return hook


def _apply(hook: Hook, raw: dict[str, Any], creating: bool) -> None:
    if creating or "name" in raw:
        if not str(raw.get("name") or "").strip():
            raise bad_request("A webhook name is required")
        hook.attrs["name"] = str(raw["name"])
    if creating or "url" in raw:
        url = str(raw.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise bad_request("The webhook URL must be an absolute http or https URL")
        hook.url = url
    if creating or "events" in raw:
        events = raw.get("events")
        if not isinstance(events, list) or not events or not set(events) <= EVENTS:
            raise bad_request("At least one valid event is required")
        hook.attrs["events"] = list(dict.fromkeys(events))
    if "active" in raw:
        hook.active = bool(raw["active"])
    if "sslVerificationRequired" in raw:
        hook.ssl_verify = bool(raw["sslVerificationRequired"])
    configuration = raw.get("configuration")
    if isinstance(configuration, dict) and "secret" in configuration:
        hook.secret = str(configuration["secret"] or "")
    hook.attrs["updated_at"] = now_iso()


async def list_hooks(request: web.Request) -> web.Response:
    repo = _guard(request)
    hooks = lookup.core_of(request).state.repo_hooks(repo)
    event = request.query.get("event")
    if event:
        hooks = [h for h in hooks if event in h.attrs.get("events", [])]
    return page(request, hooks, lookup.shapes(request).hook)


async def create_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    draft = Hook(id=0, repo_id=repo.id, url="", secret="", created_at=now_iso(), uuid="")
    _apply(draft, await lookup.body(request), creating=True)
    state = lookup.core_of(request).state
    hook = state.new_hook(repo, draft.url, draft.secret, draft.ssl_verify)
    hook.attrs.update(draft.attrs)
    hook.active = draft.active
    state.changed()
    return json_response(lookup.shapes(request).hook(hook), 201)


async def get_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    return json_response(lookup.shapes(request).hook(_hook(request, repo)))


async def update_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    hook = _hook(request, repo)
    _apply(hook, await lookup.body(request), creating=False)
    reset_failures(hook)  # saving a webhook closes its circuit breaker
    lookup.core_of(request).state.changed()
    return json_response(lookup.shapes(request).hook(hook))


async def delete_hook(request: web.Request) -> web.Response:
    repo = _guard(request)
    hook = _hook(request, repo)
    state = lookup.core_of(request).state
    del state.hooks[hook.id]
    state.changed()
    return web.Response(status=204)


async def test_hook(request: web.Request) -> web.Response:
    """``POST .../webhooks/test?url=...`` (or ``webhookId=``): send ``diagnostics:ping``
    now and answer what came back, as the "Test connection" button does."""
    repo = _guard(request)
    core = lookup.core_of(request)
    ident = request.query.get("webhookId", "")
    known = core.state.hooks.get(int(ident)) if ident.isdigit() else None
    if known is not None and known.repo_id == repo.id:
        target = known
    else:
        url = request.query.get("url", "")
        if not url.startswith(("http://", "https://")):
            raise bad_request("The webhook URL must be an absolute http or https URL")
        target = Hook(id=0, repo_id=repo.id, url=url, secret="", created_at=now_iso(), uuid="")
    outgoing = webhook.ping(target)
    before = len(core.state.deliveries)
    await core.sender.deliver(target, repo, outgoing, force=True)
    record = core.state.deliveries[-1] if len(core.state.deliveries) > before else None
    status = record.status if record else None
    result = {
        "request": {"url": target.url, "method": "POST", "headers": outgoing.headers},
        "response": (
            {"statusCode": status, "body": record.response_body if record else ""}
            if status is not None
            else None
        ),
        "exception": None if record is None or record.error is None else {"message": record.error},
    }
    return json_response(result)
