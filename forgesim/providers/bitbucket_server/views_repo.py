"""Branches, tags, commits and build statuses on Bitbucket Server.

Build statuses come two ways: the legacy ``/rest/build-status/1.0/commits/{sha}``
(global per commit, any signed-in user) and, since 7.4, ``.../repos/{slug}/commits/
{sha}/builds`` (needs ``REPO_READ``). Both answer 204; posting the same ``key`` again
replaces that status. Both GETs see statuses posted either way.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from forgesim import gitrepo
from forgesim.gitrepo import Commit
from forgesim.models import CommitStatus, Repository, User, now_iso
from forgesim.providers.bitbucket_server import lookup
from forgesim.providers.bitbucket_server.replies import bad_request, json_response, not_found, page

STATES = ("INPROGRESS", "SUCCESSFUL", "FAILED", "CANCELLED", "UNKNOWN")
SAFE_REF = re.compile(r"^[^-\s~^:?*\[\\][^\s~^:?*\[\\]*$")


def _git_dir(request: web.Request, repo: Repository) -> Path:
    return lookup.core_of(request).repo_dir(repo)


def _filtered(request: web.Request, names: list[str]) -> list[str]:
    needle = request.query.get("filterText", "").lower()
    return [n for n in names if needle in n.lower()]


async def get_branches(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    git_dir = _git_dir(request, repo)
    rows = await gitrepo.peeled_refs(git_dir, "refs/heads/")
    tips = {name.removeprefix("refs/heads/"): peeled for name, _, peeled in rows}
    names = _filtered(request, sorted(tips))
    if request.query.get("orderBy", "MODIFICATION").upper() == "MODIFICATION":
        commits = await gitrepo.commits_by_id(git_dir, list(tips.values()))
        dates = {n: commits[tips[n]].committed_date if tips[n] in commits else "" for n in names}
        names.sort(key=lambda n: dates[n], reverse=True)
    if repo.default_branch in names:  # Bitbucket lists the default branch first
        names.remove(repo.default_branch)
        names.insert(0, repo.default_branch)
    shapes = lookup.shapes(request)
    return page(request, names, lambda n: shapes.ref(n, tips[n], default=repo.default_branch))


async def get_default_branch(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    sha = await gitrepo.peel(_git_dir(request, repo), f"refs/heads/{repo.default_branch}")
    if sha is None:
        message = f"Repository {repo.full_path} does not have a default branch"
        raise not_found(message, "repository.NoDefaultBranchException")
    body = lookup.shapes(request).ref(repo.default_branch, sha, default=repo.default_branch)
    return json_response(body)


async def get_tags(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    rows = await gitrepo.peeled_refs(_git_dir(request, repo), "refs/tags/")
    found = {name.removeprefix("refs/tags/"): (sha, peeled) for name, sha, peeled in rows}
    names = _filtered(request, sorted(found, reverse=True))
    if request.query.get("orderBy", "").upper() == "ALPHABETICAL":
        names.sort()
    shapes = lookup.shapes(request)
    return page(request, names, lambda n: shapes.ref(n, found[n][1], tag=found[n][0]))


async def get_tag(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    name = request.match_info["name"]
    rows = await gitrepo.peeled_refs(_git_dir(request, repo), f"refs/tags/{name}")
    exact = [(sha, peeled) for ref, sha, peeled in rows if ref == f"refs/tags/{name}"]
    if not exact:
        raise not_found(f"Tag {name} does not exist.", "repository.NoSuchTagException")
    sha, peeled = exact[0]
    return json_response(lookup.shapes(request).ref(name, peeled, tag=sha))


async def _commit(request: web.Request, repo: Repository) -> Commit:
    ident = request.match_info["commit"]
    git_dir = _git_dir(request, repo)
    found = await gitrepo.commit(git_dir, ident) if SAFE_REF.match(ident) else None
    if found is None:
        message = f"Commit '{ident}' does not exist in repository '{repo.path}'."
        raise not_found(message, "commit.NoSuchCommitException")
    return found


async def get_commit(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    return json_response(lookup.shapes(request).commit(await _commit(request, repo)))


# build statuses ---------------------------------------------------------------------------
def _store(
    request: web.Request, repo_id: int, sha: str, raw: dict[str, object], user: User
) -> None:
    state_name, key, url = raw.get("state"), raw.get("key"), raw.get("url")
    if state_name not in STATES:
        raise bad_request(f"state must be one of {', '.join(STATES)}")
    if not key or not url:
        raise bad_request("key and url are required")
    state = lookup.core_of(request).state
    existing = next((s for s in state.statuses.values() if s.sha == sha and s.context == key), None)
    stamp = now_iso()
    st = existing or CommitStatus(
        id=state.next_id("status"),
        repo_id=repo_id,
        sha=sha,
        state=str(state_name),
        context=str(key),
        created_at=stamp,
        author_id=user.id,
    )
    st.state, st.target_url = str(state_name), str(url)
    st.description = None if raw.get("description") is None else str(raw["description"])
    st.ref = None if raw.get("ref") is None else str(raw["ref"])
    for name in ("name", "buildNumber", "parent", "duration"):
        if raw.get(name) is not None:
            st.attrs[name] = raw[name]
    st.attrs["updated_at"] = stamp
    state.statuses[st.id] = st
    state.changed()


def _for_commit(request: web.Request, sha: str, repo_id: int | None) -> list[CommitStatus]:
    state = lookup.core_of(request).state
    found = [
        s
        for s in state.statuses.values()
        if s.sha == sha and (repo_id is None or s.repo_id in (0, repo_id))
    ]
    return sorted(found, key=lambda s: s.attrs.get("updated_at", s.created_at), reverse=True)


async def post_legacy_status(request: web.Request) -> web.Response:
    user = lookup.login(request)
    sha = request.match_info["commit"].lower()
    _store(request, 0, sha, await lookup.body(request), user)
    return web.Response(status=204)


async def get_legacy_statuses(request: web.Request) -> web.Response:
    lookup.login(request)
    found = _for_commit(request, request.match_info["commit"].lower(), None)
    shapes = lookup.shapes(request)
    return page(request, found, lambda s: shapes.status(s, legacy=True))


async def post_build(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    user = lookup.login(request)
    found = await _commit(request, repo)
    _store(request, repo.id, found.id, await lookup.body(request), user)
    return web.Response(status=204)


async def get_builds(request: web.Request) -> web.Response:
    """``?key=K`` answers that one status (404 if none); without a key, every status."""
    repo = lookup.repository(request)
    found = _for_commit(request, (await _commit(request, repo)).id, repo.id)
    shapes = lookup.shapes(request)
    key = request.query.get("key")
    if key is None:
        return page(request, found, lambda s: shapes.status(s, legacy=False))
    for st in found:
        if st.context == key:
            return json_response(shapes.status(st, legacy=False))
    raise not_found(f"No build status with key '{key}'", "build.NoSuchBuildStatusException")
