"""Repository contents (branches, tags, commits, git refs) and commit statuses."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from forgesim import gitrepo
from forgesim.gitrepo import Commit
from forgesim.models import DEVELOPER, CommitStatus, Repository, now_iso
from forgesim.providers.github import auth, lookup
from forgesim.providers.github.replies import Reply, error, invalid, not_found, page_response
from forgesim.providers.github.shapes_git import FileChange

STATES = ("error", "failure", "pending", "success")
STATUS_SCOPES = ("repo", "repo:status")
SAFE_REF = re.compile(r"^[^-\s~^:?*\[\\][^\s~^:?*\[\\]*$")


def _git_dir(request: web.Request, repo: Repository) -> Path:
    return lookup.core_of(request).repo_dir(repo)


async def _tree(git_dir: Path, sha: str) -> str:
    return (await gitrepo.run(git_dir, "rev-parse", f"{sha}^{{tree}}")).strip()


async def _resolve(request: web.Request, repo: Repository, ref: str) -> Commit:
    """A sha, branch or tag to its commit: 409 on an empty repository, else 422."""
    git_dir = _git_dir(request, repo)
    found = await gitrepo.commit(git_dir, ref) if SAFE_REF.match(ref) else None
    if found is None:
        if not await gitrepo.refs(git_dir, "refs/heads/"):
            raise Reply(error(409, "Git Repository is empty."))
        raise Reply(error(422, f"No commit found for SHA: {ref}"))
    return found


async def get_branches(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    lookup.require_code(request, repo)
    rows = await gitrepo.peeled_refs(_git_dir(request, repo), "refs/heads/")
    shapes = lookup.shapes(request)
    items = [(name.removeprefix("refs/heads/"), peeled) for name, _, peeled in rows]
    return page_response(request, items, lambda item: shapes.branch_short(repo, *item))


async def get_branch(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    lookup.require_code(request, repo)
    name = request.match_info["branch"]
    git_dir = _git_dir(request, repo)
    found = await gitrepo.commit(git_dir, f"refs/heads/{name}") if SAFE_REF.match(name) else None
    if found is None:
        raise Reply(error(404, "Branch not found"))
    shapes = lookup.shapes(request)
    return web.json_response(shapes.branch(repo, name, found, await _tree(git_dir, found.id)))


async def get_tags(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    lookup.require_code(request, repo)
    rows = await gitrepo.peeled_refs(_git_dir(request, repo), "refs/tags/")
    shapes = lookup.shapes(request)
    items = [(name.removeprefix("refs/tags/"), peeled) for name, _, peeled in reversed(rows)]
    return page_response(request, items, lambda item: shapes.tag(repo, *item))


async def _files(git_dir: Path, c: Commit) -> list[FileChange]:
    base = [c.parent_ids[0], c.id] if c.parent_ids else ["--root", c.id]
    common = ["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id"]
    raw = (await gitrepo.run(git_dir, *common, *base)).split("\0")
    numstat = (await gitrepo.run(git_dir, *common, "--numstat", *base)).split("\0")
    counts: dict[str, tuple[int, int]] = {}
    for entry in numstat:
        adds, _, rest = entry.partition("\t")
        dels, _, path = rest.partition("\t")
        if path:
            counts[path] = (int(adds) if adds.isdigit() else 0, int(dels) if dels.isdigit() else 0)
    out = []
    for meta, path in zip(raw[0::2], raw[1::2], strict=False):
        parts = meta.split()
        if len(parts) < 5:
            continue
        kind = {"A": "added", "D": "removed"}.get(parts[4][:1], "modified")
        sha = parts[2] if kind == "removed" else parts[3]
        added, deleted = counts.get(path, (0, 0))
        out.append(FileChange(path, kind, sha, added, deleted))
    return out


async def get_commit(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    lookup.require_code(request, repo)
    found = await _resolve(request, repo, request.match_info["ref"])
    git_dir = _git_dir(request, repo)
    files = await _files(git_dir, found)
    shapes = lookup.shapes(request)
    return web.json_response(shapes.commit(repo, found, await _tree(git_dir, found.id), files))


async def _refs(request: web.Request, repo: Repository, prefix: str) -> list[tuple[str, str, str]]:
    out = await gitrepo.run(
        _git_dir(request, repo), "for-each-ref", "--format=%(refname) %(objectname) %(objecttype)"
    )
    rows = [tuple(line.split(" ")) for line in out.splitlines() if line.count(" ") == 2]
    return [(r[0], r[1], r[2]) for r in rows if r[0].startswith(prefix)]


async def get_git_ref(request: web.Request) -> web.Response:
    """``/git/ref/{ref}`` is exact; ``/git/refs/{ref}`` also lists refs under a prefix."""
    repo = lookup.repository(request)
    lookup.require_code(request, repo)
    ref = "refs/" + request.match_info.get("ref", "").strip("/")
    shapes = lookup.shapes(request)
    exact = [row for row in await _refs(request, repo, ref) if row[0] == ref]
    if exact:
        return web.json_response(shapes.git_ref(repo, *exact[0]))
    if request.match_info.get("kind") == "refs":
        under = await _refs(request, repo, ref.rstrip("/") + "/")
        if under or ref == "refs/":
            return page_response(request, under, lambda row: shapes.git_ref(repo, *row))
    raise not_found()


async def get_matching_refs(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    lookup.require_code(request, repo)
    rows = await _refs(request, repo, "refs/" + request.match_info.get("ref", ""))
    shapes = lookup.shapes(request)
    return web.json_response([shapes.git_ref(repo, *row) for row in rows])


# commit statuses -------------------------------------------------------------------------
async def post_status(request: web.Request) -> web.Response:
    repo = lookup.repository(request, *STATUS_SCOPES)
    lookup.need(request, "statuses", "write", *STATUS_SCOPES)
    user = lookup.login(request)
    if lookup.level(request, repo) < DEVELOPER:
        raise not_found()
    found = await _resolve(request, repo, request.match_info["sha"])
    raw = await lookup.body(request)
    state_name = raw.get("state")
    if state_name not in STATES:
        raise invalid("state is not included in the list", "Status", "state", code="custom")
    core = lookup.core_of(request)
    stamp = now_iso()
    st = CommitStatus(
        id=core.state.next_id("status"),
        repo_id=repo.id,
        sha=found.id,
        state=str(state_name),
        context=str(raw.get("context") or "default"),
        created_at=stamp,
        target_url=raw.get("target_url"),
        description=raw.get("description"),
        author_id=user.id,
        attrs={"updated_at": stamp},
    )
    core.state.statuses[st.id] = st
    core.state.changed()
    return web.json_response(lookup.shapes(request).status(repo, st), status=201)


async def _statuses(request: web.Request) -> tuple[Repository, str, list[CommitStatus]]:
    repo = lookup.repository(request, *STATUS_SCOPES)
    lookup.need(request, "statuses", "read", *(STATUS_SCOPES if repo.private else ()))
    found = await _resolve(request, repo, request.match_info["ref"])
    state = lookup.core_of(request).state
    mine = [s for s in state.statuses.values() if s.repo_id == repo.id and s.sha == found.id]
    return repo, found.id, sorted(mine, key=lambda s: -s.id)


async def get_statuses(request: web.Request) -> web.Response:
    repo, _, found = await _statuses(request)
    shapes = lookup.shapes(request)
    return page_response(request, found, lambda s: shapes.status(repo, s))


async def get_combined_status(request: web.Request) -> web.Response:
    repo, sha, found = await _statuses(request)
    latest: dict[str, CommitStatus] = {}
    for st in found:  # newest first: keep the first seen per context
        latest.setdefault(st.context, st)
    auth.accept(request, *STATUS_SCOPES)
    ordered = sorted(latest.values(), key=lambda s: s.id)
    return web.json_response(lookup.shapes(request).combined(repo, sha, ordered))
