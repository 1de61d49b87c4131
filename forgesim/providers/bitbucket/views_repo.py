"""Branches, tags, commits and build statuses of one Bitbucket Cloud repository."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from forgesim import gitrepo
from forgesim.gitrepo import Commit
from forgesim.models import REPORTER, CommitStatus, Repository, now_iso
from forgesim.providers.bitbucket import lookup
from forgesim.providers.bitbucket.replies import Reply, bad_request, denied, error, page_response

STATES = ("INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED")
KEY_LIMIT = 40  # build status keys
SAFE_REF = re.compile(r"^[^-\s~^:?*\[\\][^\s~^:?*\[\\]*$")


def _git_dir(request: web.Request, repo: Repository) -> Path:
    return lookup.core_of(request).repo_dir(repo)


async def _refs(request: web.Request, repo: Repository, prefix: str) -> list[tuple[str, Commit]]:
    git_dir = _git_dir(request, repo)
    rows = await gitrepo.peeled_refs(git_dir, prefix)
    needle = request.query.get("q", "")
    match = re.search(r'name\s*~\s*"([^"]*)"', needle)
    rows = [r for r in rows if not match or match.group(1).lower() in r[0].lower()]
    commits = await gitrepo.commits_by_id(git_dir, [peeled for _, _, peeled in rows])
    return [(name.removeprefix(prefix), commits[p]) for name, _, p in rows if p in commits]


async def get_branches(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    found = await _refs(request, repo, "refs/heads/")
    shapes = lookup.shapes(request)
    return page_response(request, found, lambda item: shapes.branch(repo, *item))


async def get_branch(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    name = request.match_info["name"]
    git_dir = _git_dir(request, repo)
    found = await gitrepo.commit(git_dir, f"refs/heads/{name}") if SAFE_REF.match(name) else None
    if found is None:
        raise Reply(error(404, f'Branch "{name}" does not exist'))
    return web.json_response(lookup.shapes(request).branch(repo, name, found))


async def get_tags(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    git_dir = _git_dir(request, repo)
    found = await _refs(request, repo, "refs/tags/")
    messages = {n: await gitrepo.tag_message(git_dir, f"refs/tags/{n}") for n, _ in found}
    shapes = lookup.shapes(request)
    return page_response(request, found, lambda i: shapes.tag(repo, i[0], i[1], messages[i[0]]))


async def get_tag(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    name = request.match_info["name"]
    git_dir = _git_dir(request, repo)
    found = await gitrepo.commit(git_dir, f"refs/tags/{name}") if SAFE_REF.match(name) else None
    if found is None:
        raise Reply(error(404, f'Tag "{name}" does not exist'))
    message = await gitrepo.tag_message(git_dir, f"refs/tags/{name}")
    return web.json_response(lookup.shapes(request).tag(repo, name, found, message))


async def _commit(request: web.Request, repo: Repository) -> Commit:
    rev = request.match_info["commit"]
    found = await gitrepo.commit(_git_dir(request, repo), rev) if SAFE_REF.match(rev) else None
    if found is None:
        raise Reply(error(404, f"Commit not found: {rev}"))
    return found


async def get_commit(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    found = await _commit(request, repo)
    return web.json_response(lookup.shapes(request).commit(repo, found))


def _statuses(request: web.Request, repo: Repository, sha: str) -> list[CommitStatus]:
    state = lookup.core_of(request).state
    found = [s for s in state.statuses.values() if s.repo_id == repo.id and s.sha == sha]
    return sorted(found, key=lambda s: s.attrs.get("updated_on", s.created_at), reverse=True)


async def get_statuses(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    found = await _commit(request, repo)
    shapes = lookup.shapes(request)
    items = _statuses(request, repo, found.id)
    return page_response(request, items, lambda s: shapes.status(repo, s))


async def get_build_status(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    found = await _commit(request, repo)
    key = request.match_info["key"]
    for st in _statuses(request, repo, found.id):
        if st.context == key:
            return web.json_response(lookup.shapes(request).status(repo, st))
    raise Reply(error(404, f"Build status with key '{key}' not found"))


async def put_build_status(request: web.Request) -> web.Response:
    """PUT .../statuses/build/{key}: update fields of an existing status."""
    return await post_build_status(request, request.match_info["key"])


async def post_build_status(request: web.Request, key: str | None = None) -> web.Response:
    """POST .../statuses/build: create, or overwrite the status with the same key."""
    repo = lookup.repository(request)
    user = lookup.login(request)
    if lookup.level(request, repo) < REPORTER:
        raise denied()
    found = await _commit(request, repo)
    raw = await lookup.body(request)
    key = key or str(raw.get("key") or "")
    existing = next((s for s in _statuses(request, repo, found.id) if s.context == key), None)
    state_name = str(raw.get("state") or (existing.state if existing else ""))
    if not key:
        raise bad_request("key: This field is required.", {"key": ["This field is required."]})
    if len(key) > KEY_LIMIT:  # as Bitbucket Cloud answers it
        why = f"Ensure this value has at most {KEY_LIMIT} characters (it has {len(key)})."
        raise bad_request(f"key: {why}", {"key": [why]})
    if state_name not in STATES:
        raise bad_request(f"state: {state_name!r} is not a valid choice.", {"state": ["invalid"]})
    core = lookup.core_of(request)
    stamp = now_iso()
    st = existing or CommitStatus(
        id=core.state.next_id("status"),
        repo_id=repo.id,
        sha=found.id,
        state=state_name,
        context=key,
        created_at=stamp,
        author_id=user.id,
    )
    st.state = state_name
    for field, attr in (("url", "target_url"), ("description", "description"), ("refname", "ref")):
        if field in raw:
            setattr(st, attr, raw[field])
    if "name" in raw:
        st.attrs["name"] = raw["name"]
    st.attrs["updated_on"] = stamp
    core.state.statuses[st.id] = st
    core.state.changed()
    status = 200 if existing else 201
    return web.json_response(lookup.shapes(request).status(repo, st), status=status)


async def post_build_status_route(request: web.Request) -> web.Response:
    return await post_build_status(request)
