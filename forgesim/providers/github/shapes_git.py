"""Branches, tags, commits, git refs, hooks and commit statuses as GitHub renders them."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any

from forgesim.gitrepo import Commit
from forgesim.models import CommitStatus, Delivery, Hook, Repository, User
from forgesim.providers.github.replies import iso
from forgesim.providers.github.shapes import Shapes, node_id

Json = dict[str, Any]


def utc(git_date: str) -> str:
    """git's strict ISO date with an offset to GitHub's UTC ``...Z``."""
    stamp = dt.datetime.fromisoformat(git_date).astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class FileChange:
    """One path of a commit, from ``git diff-tree --raw`` and ``--numstat``."""

    filename: str
    status: str  # added | modified | removed
    sha: str  # blob id (the old one for removals)
    additions: int
    deletions: int


class GitShapes(Shapes):
    def by_email(self, email: str) -> User | None:
        return next((u for u in self.core.state.users.values() if u.email == email), None)

    def commit_ref(self, repo: Repository, sha: str) -> Json:
        return {"sha": sha, "url": self.api(f"/repos/{repo.full_path}/commits/{sha}")}

    def branch_short(self, repo: Repository, name: str, sha: str) -> Json:
        return {"name": name, "commit": self.commit_ref(repo, sha), "protected": False}

    def branch(self, repo: Repository, name: str, c: Commit, tree: str) -> Json:
        base = self.api(f"/repos/{repo.full_path}/branches/{name}")
        return {
            "name": name,
            "commit": self.commit(repo, c, tree, None),
            "_links": {"self": base, "html": self.html(f"{repo.full_path}/tree/{name}")},
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {
                    "enforcement_level": "off",
                    "contexts": [],
                    "checks": [],
                },
            },
            "protection_url": base + "/protection",
        }

    def tag(self, repo: Repository, name: str, sha: str) -> Json:
        return {
            "name": name,
            "zipball_url": self.api(f"/repos/{repo.full_path}/zipball/refs/tags/{name}"),
            "tarball_url": self.api(f"/repos/{repo.full_path}/tarball/refs/tags/{name}"),
            "commit": self.commit_ref(repo, sha),
            "node_id": node_id("Ref", zlib.crc32(f"{repo.id}:refs/tags/{name}".encode())),
        }

    def _person(self, name: str, email: str, date: str) -> Json:
        return {"name": name, "email": email, "date": utc(date)}

    def commit(
        self, repo: Repository, c: Commit, tree: str, files: list[FileChange] | None
    ) -> Json:
        """``GET /repos/:o/:r/commits/:ref``; ``files`` None leaves out stats and files."""
        base = self.api(f"/repos/{repo.full_path}")
        author, committer = self.by_email(c.author_email), self.by_email(c.committer_email)
        out: Json = {
            "sha": c.id,
            "node_id": node_id("Commit", int(c.id[:7], 16)),
            "commit": {
                "author": self._person(c.author_name, c.author_email, c.authored_date),
                "committer": self._person(c.committer_name, c.committer_email, c.committed_date),
                "message": c.message.rstrip("\n"),
                "tree": {"sha": tree, "url": f"{base}/git/trees/{tree}"},
                "url": f"{base}/git/commits/{c.id}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": f"{base}/commits/{c.id}",
            "html_url": self.html(f"{repo.full_path}/commit/{c.id}"),
            "comments_url": f"{base}/commits/{c.id}/comments",
            "author": self.user_simple(author) if author else None,
            "committer": self.user_simple(committer) if committer else None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{base}/commits/{p}",
                    "html_url": self.html(f"{repo.full_path}/commit/{p}"),
                }
                for p in c.parent_ids
            ],
        }
        if files is not None:
            adds, dels = sum(f.additions for f in files), sum(f.deletions for f in files)
            out["stats"] = {"total": adds + dels, "additions": adds, "deletions": dels}
            out["files"] = [self._file(repo, c.id, f) for f in files]
        return out

    def _file(self, repo: Repository, sha: str, f: FileChange) -> Json:
        return {
            "sha": f.sha,
            "filename": f.filename,
            "status": f.status,
            "additions": f.additions,
            "deletions": f.deletions,
            "changes": f.additions + f.deletions,
            "blob_url": self.html(f"{repo.full_path}/blob/{sha}/{f.filename}"),
            "raw_url": self.html(f"{repo.full_path}/raw/{sha}/{f.filename}"),
            "contents_url": self.api(f"/repos/{repo.full_path}/contents/{f.filename}?ref={sha}"),
        }

    def git_ref(self, repo: Repository, ref: str, sha: str, kind: str) -> Json:
        base = self.api(f"/repos/{repo.full_path}/git")
        plural = "tags" if kind == "tag" else "commits"
        return {
            "ref": ref,
            "node_id": node_id("Ref", zlib.crc32(f"{repo.id}:{ref}".encode())),
            "url": f"{base}/{ref}",
            "object": {"sha": sha, "type": kind, "url": f"{base}/{plural}/{sha}"},
        }

    # hooks ------------------------------------------------------------------------------
    def hook_config(self, hook: Hook) -> Json:
        config: Json = {
            "content_type": hook.attrs.get("content_type", "json"),
            "insecure_ssl": "0" if hook.ssl_verify else "1",
            "url": hook.url,
        }
        if hook.secret:
            config["secret"] = "********"  # noqa: S105 - GitHub masks a hook's secret
        return config

    def last_response(self, hook: Hook) -> Json:
        last: Delivery | None = next(
            (d for d in reversed(self.core.state.deliveries) if d.hook_id == hook.id), None
        )
        if last is None:
            return {"code": None, "status": "unused", "message": None}
        if last.error is not None:
            return {"code": 502, "status": "failed", "message": last.error}
        ok = last.status is not None and 200 <= last.status < 300
        message = "OK" if ok else f"Invalid HTTP Response: {last.status}"
        return {"code": last.status, "status": "active" if ok else "failed", "message": message}

    def hook(self, repo: Repository, hook: Hook) -> Json:
        base = self.api(f"/repos/{repo.full_path}/hooks/{hook.id}")
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": list(hook.attrs.get("events", ["push"])),
            "config": self.hook_config(hook),
            "updated_at": iso(hook.attrs.get("updated_at", hook.created_at)),
            "created_at": iso(hook.created_at),
            "url": base,
            "test_url": base + "/test",
            "ping_url": base + "/pings",
            "deliveries_url": base + "/deliveries",
            "last_response": self.last_response(hook),
        }

    # statuses ---------------------------------------------------------------------------
    def status(self, repo: Repository, st: CommitStatus) -> Json:
        creator = self.core.state.users.get(st.author_id) if st.author_id else None
        return {
            "url": self.api(f"/repos/{repo.full_path}/statuses/{st.sha}"),
            "avatar_url": self.html(f"avatars/u/{creator.id}?v=4") if creator else None,
            "id": st.id,
            "node_id": node_id("StatusContext", st.id),
            "state": st.state,
            "description": st.description,
            "target_url": st.target_url,
            "context": st.context,
            "created_at": iso(st.created_at),
            "updated_at": iso(st.attrs.get("updated_at", st.created_at)),
            "creator": self.user_simple(creator) if creator else None,
        }

    def combined(self, repo: Repository, sha: str, latest: list[CommitStatus]) -> Json:
        states = {s.state for s in latest}
        if states & {"error", "failure"}:
            overall = "failure"
        elif not latest or "pending" in states:
            overall = "pending"
        else:
            overall = "success"
        minimal = {k: v for k, v in self.repo_base(repo).items() if not k.endswith("_at")}
        base = self.api(f"/repos/{repo.full_path}/commits/{sha}")
        return {
            "state": overall,
            "statuses": [self.status(repo, s) for s in latest],
            "sha": sha,
            "total_count": len(latest),
            "repository": minimal,
            "commit_url": base,
            "url": base + "/status",
        }
