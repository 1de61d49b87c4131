"""Repository webhooks: list, create (then ``ping``), get, edit, delete, ping again.

Classic scopes: reading needs ``read:repo_hook``, writing ``write:repo_hook``, deleting
``admin:repo_hook`` (each implied by the one after it, all by ``repo``); fine-grained
tokens need ``webhooks`` read / write. The person must be a repository admin.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim.models import Hook, Repository, now_iso
from forgesim.providers.github import lookup, webhook
from forgesim.providers.github.replies import invalid, not_found, page_response

READ = ("read:repo_hook", "repo")
WRITE = ("write:repo_hook", "repo")
DELETE = ("admin:repo_hook", "repo")


def _guard(request: web.Request, level: str, scopes: tuple[str, ...]) -> Repository:
    repo = lookup.repository(request, *scopes)
    lookup.need(request, "webhooks", level, *scopes)
    lookup.require_admin(request, repo)
    return repo


def _hook(request: web.Request, repo: Repository) -> Hook:
    ident = request.match_info["hook_id"]
    hook = lookup.core_of(request).state.hooks.get(int(ident)) if ident.isdigit() else None
    if hook is None or hook.repo_id != repo.id:
        raise not_found()
    return hook


def _events(raw: Any, default: list[str]) -> list[str]:
    if raw is None:
        return default
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise invalid("events must be a list of event names", "Hook", "events", code="custom")
    return list(dict.fromkeys(raw))


def _apply_config(hook: Hook, config: Any) -> None:
    if not isinstance(config, dict):
        raise invalid("Config must be an object", "Hook", "config", code="custom")
    url = str(config.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise invalid("Config must have a valid url", "Hook", "config", code="custom")
    content_type = str(config.get("content_type") or "form")
    if content_type not in ("json", "form"):
        raise invalid("Config content_type must be json or form", "Hook", "config", code="custom")
    hook.url = url
    hook.attrs["content_type"] = content_type
    hook.ssl_verify = str(config.get("insecure_ssl", "0")) in ("0", "False", "false")
    if "secret" in config:
        hook.secret = str(config["secret"] or "")


async def list_hooks(request: web.Request) -> web.Response:
    repo = _guard(request, "read", READ)
    shapes = lookup.shapes(request)
    hooks = lookup.core_of(request).state.repo_hooks(repo)
    return page_response(request, hooks, lambda h: shapes.hook(repo, h))


async def create_hook(request: web.Request) -> web.Response:
    repo = _guard(request, "write", WRITE)
    user = lookup.login(request)
    raw = await lookup.body(request)
    if raw.get("name", "web") != "web":
        raise invalid("Name must be web", "Hook", "name", code="custom")
    core = lookup.core_of(request)
    hook = Hook(id=0, repo_id=repo.id, url="", secret="", created_at=now_iso(), uuid="")
    _apply_config(hook, raw.get("config"))
    events = _events(raw.get("events"), ["push"])
    for other in core.state.repo_hooks(repo):
        if other.url == hook.url and set(other.attrs.get("events", [])) == set(events):
            raise invalid("Hook already exists on this repository", "Hook", "", code="custom")
    created = core.state.new_hook(repo, hook.url, hook.secret, hook.ssl_verify)
    created.attrs.update(content_type=hook.attrs["content_type"], events=events)
    created.active = bool(raw.get("active", True))
    core.state.changed()
    if created.active:
        core.spawn(core.sender.deliver(created, repo, webhook.ping(core, repo, created, user)))
    body = lookup.shapes(request).hook(repo, created)
    return web.json_response(body, status=201, headers={"Location": body["url"]})


async def get_hook(request: web.Request) -> web.Response:
    repo = _guard(request, "read", READ)
    return web.json_response(lookup.shapes(request).hook(repo, _hook(request, repo)))


async def edit_hook(request: web.Request) -> web.Response:
    repo = _guard(request, "write", WRITE)
    hook = _hook(request, repo)
    raw = await lookup.body(request)
    if "config" in raw:
        _apply_config(hook, {"secret": hook.secret, **raw["config"]})
    events = _events(raw.get("events"), list(hook.attrs.get("events", ["push"])))
    events += [e for e in _events(raw.get("add_events"), []) if e not in events]
    removed = set(_events(raw.get("remove_events"), []))
    hook.attrs["events"] = [e for e in events if e not in removed]
    if "active" in raw:
        hook.active = bool(raw["active"])
    hook.attrs["updated_at"] = now_iso()
    hook.recent_failures, hook.disabled_until, hook.alert_status = 0, None, "executable"
    lookup.core_of(request).state.changed()
    return web.json_response(lookup.shapes(request).hook(repo, hook))


async def delete_hook(request: web.Request) -> web.Response:
    repo = _guard(request, "write", DELETE)
    hook = _hook(request, repo)
    state = lookup.core_of(request).state
    del state.hooks[hook.id]
    state.changed()
    return web.Response(status=204)


async def ping_hook(request: web.Request) -> web.Response:
    repo = _guard(request, "write", WRITE)
    hook = _hook(request, repo)
    core = lookup.core_of(request)
    user = lookup.login(request)
    core.spawn(core.sender.deliver(hook, repo, webhook.ping(core, repo, hook, user)))
    return web.Response(status=204)
