"""Repository contents (branches, tags, commits), commit statuses and project hooks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim import gitrepo
from forgesim.delivery import reset_failures
from forgesim.models import DEVELOPER, MAINTAINER, CommitStatus, Hook, Repository, now_iso
from forgesim.providers.gitlab import lookup
from forgesim.providers.gitlab.replies import Reply, bad_request, not_found, page_response
from forgesim.providers.gitlab.shapes import HOOK_EVENTS

STATES = ("pending", "running", "success", "failed", "canceled", "skipped")


async def _refs(request: web.Request, repo: Repository, pattern: str) -> list[Any]:
    git_dir = lookup.core_of(request).repo_dir(repo)
    rows = await gitrepo.peeled_refs(git_dir, pattern)
    return rows


async def get_branches(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_code(request, repo)
    git_dir = lookup.core_of(request).repo_dir(repo)
    rows = await _refs(request, repo, "refs/heads/")
    needle = request.query.get("search", "")
    rows = [r for r in rows if needle in r[0].removeprefix("refs/heads/")]
    commits = await gitrepo.commits_by_id(git_dir, [peeled for _, _, peeled in rows])
    shapes = lookup.shapes(request)
    out = [
        shapes.branch(repo, name.removeprefix("refs/heads/"), commits[peeled], in_list=True)
        for name, _, peeled in rows
        if peeled in commits
    ]
    return page_response(request, out)


async def get_branch(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_code(request, repo)
    name = request.match_info["branch"]
    c = await gitrepo.commit(lookup.core_of(request).repo_dir(repo), f"refs/heads/{name}")
    if c is None:
        raise not_found("Branch Not Found")
    return web.json_response(lookup.shapes(request).branch(repo, name, c, in_list=False))


async def get_tags(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_code(request, repo)
    git_dir = lookup.core_of(request).repo_dir(repo)
    rows = await _refs(request, repo, "refs/tags/")
    commits = await gitrepo.commits_by_id(git_dir, [peeled for _, _, peeled in rows])
    shapes = lookup.shapes(request)
    out = []
    for name, sha, peeled in reversed(rows):
        if peeled in commits:
            msg = await gitrepo.tag_message(git_dir, sha) if sha != peeled else None
            out.append(shapes.tag(repo, name.removeprefix("refs/tags/"), sha, commits[peeled], msg))
    return page_response(request, out)


async def get_commit(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_code(request, repo)
    c = await gitrepo.commit(lookup.core_of(request).repo_dir(repo), request.match_info["sha"])
    if c is None:
        raise not_found("Commit Not Found")
    return web.json_response(lookup.shapes(request).commit_detail(c, repo))


async def get_statuses(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_code(request, repo)
    git_dir = lookup.core_of(request).repo_dir(repo)
    sha = await gitrepo.peel(git_dir, request.match_info["sha"])
    if sha is None:
        raise not_found("Commit Not Found")
    state = lookup.core_of(request).state
    found = [s for s in state.statuses.values() if s.repo_id == repo.id and s.sha == sha]
    for key, attr in (("ref", "ref"), ("name", "context")):
        if key in request.query:
            found = [s for s in found if getattr(s, attr) == request.query[key]]
    shapes = lookup.shapes(request)
    return page_response(request, sorted(found, key=lambda s: -s.id), shapes.status)


async def post_status(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    user = lookup.require_level(request, repo, DEVELOPER)
    core = lookup.core_of(request)
    sha = await gitrepo.peel(core.repo_dir(repo), request.match_info["sha"])
    if sha is None:
        raise not_found("Commit Not Found")
    p = await lookup.params(request)
    state_name = str(p.get("state", ""))
    if state_name not in STATES:
        raise bad_request("state does not have a valid value")
    context = str(p.get("name") or p.get("context") or "default")
    ref = str(p.get("ref") or repo.default_branch)
    existing = [
        s
        for s in core.state.statuses.values()
        if (s.repo_id, s.sha, s.context, s.ref) == (repo.id, sha, context, ref)
    ]
    st = (
        existing[0]
        if existing
        else CommitStatus(
            id=core.state.next_id("status"),
            repo_id=repo.id,
            sha=sha,
            state=state_name,
            context=context,
            created_at=now_iso(),
            ref=ref,
            author_id=user.id,
        )
    )
    st.state = state_name
    for key in ("target_url", "description"):
        if key in p:
            setattr(st, key, None if p[key] is None else str(p[key]))
    for key in ("coverage", "pipeline_id"):
        if key in p:
            st.attrs[key] = p[key]
    if state_name == "running":
        st.attrs["started_at"] = now_iso()
    if state_name in ("success", "failed", "canceled", "skipped"):
        st.attrs["finished_at"] = now_iso()
    core.state.statuses[st.id] = st
    core.state.changed()
    return web.json_response(lookup.shapes(request).status(st), status=201)


# hooks -----------------------------------------------------------------------------------
def _hook(request: web.Request, repo: Repository) -> Hook:
    ident = request.match_info["hook_id"]
    hook = lookup.core_of(request).state.hooks.get(int(ident)) if ident.isdigit() else None
    if hook is None or hook.repo_id != repo.id:
        raise not_found("Not found")
    return hook


def _apply(hook: Hook, p: dict[str, Any]) -> None:
    for name, default in HOOK_EVENTS:
        if name in p or name not in hook.attrs:
            hook.attrs[name] = lookup.boolean(p.get(name), hook.attrs.get(name, default))
    if "build_events" in p:  # v3's name for job_events
        hook.attrs["job_events"] = lookup.boolean(p["build_events"], False)
    if "push_events_branch_filter" in p:
        hook.attrs["push_events_branch_filter"] = str(p["push_events_branch_filter"] or "")
    if "enable_ssl_verification" in p:
        hook.ssl_verify = lookup.boolean(p["enable_ssl_verification"], True)
    if "token" in p:
        hook.secret = str(p["token"] or "")


def _url(p: dict[str, Any]) -> str:
    url = str(p.get("url") or "")
    if not url:
        raise bad_request("url is missing")
    if not url.startswith(("http://", "https://")):
        raise Reply(
            web.json_response(
                {"message": {"url": ["is blocked: Only allowed schemes are http, https"]}},
                status=422,
            )
        )
    return url


async def list_hooks(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_level(request, repo, MAINTAINER)
    hooks = lookup.core_of(request).state.repo_hooks(repo)
    return page_response(request, hooks, lookup.shapes(request).hook)


async def create_hook(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_level(request, repo, MAINTAINER)
    p = await lookup.params(request)
    state = lookup.core_of(request).state
    hook = state.new_hook(repo, _url(p), str(p.get("token") or ""), True)
    _apply(hook, p)
    state.changed()
    return web.json_response(lookup.shapes(request).hook(hook), status=201)


async def get_hook(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_level(request, repo, MAINTAINER)
    return web.json_response(lookup.shapes(request).hook(_hook(request, repo)))


async def edit_hook(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_level(request, repo, MAINTAINER)
    hook = _hook(request, repo)
    p = await lookup.params(request)
    if "url" in p:
        hook.url = _url(p)
    _apply(hook, p)
    reset_failures(hook)  # saving a hook re-enables it, as editing it in GitLab does
    lookup.core_of(request).state.changed()
    return web.json_response(lookup.shapes(request).hook(hook))


async def delete_hook(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    lookup.require_level(request, repo, MAINTAINER)
    hook = _hook(request, repo)
    state = lookup.core_of(request).state
    del state.hooks[hook.id]
    state.changed()
    if lookup.shapes(request).version == "v3":
        return web.json_response(lookup.shapes(request).hook(hook))
    return web.Response(status=204)
