"""Commits, branches, tags and build statuses as Bitbucket Cloud renders them."""

from __future__ import annotations

import datetime as dt
import html

from forgesim.gitrepo import Commit
from forgesim.models import CommitStatus, Repository
from forgesim.providers.bitbucket.shapes import Json, Shapes, braced, href, stamp

MERGE_STRATEGIES = ["merge_commit", "squash", "fast_forward"]


def utc(git_date: str) -> str:
    """git's strict ISO date to Bitbucket's ``2018-07-02T20:22:41+00:00``."""
    return dt.datetime.fromisoformat(git_date).astimezone(dt.UTC).isoformat()


class GitShapes(Shapes):
    def commit_ref(self, repo: Repository, sha: str) -> Json:
        base = self.api(f"/repositories/{repo.full_path}/commit/{sha}")
        return {
            "hash": sha,
            "type": "commit",
            "links": {
                "self": href(base),
                "html": href(self.html(f"{repo.full_path}/commits/{sha}")),
            },
        }

    def author(self, name: str, email: str) -> Json:
        out: Json = {"type": "author", "raw": f"{name} <{email}>"}
        user = next((u for u in self.core.state.users.values() if u.email == email), None)
        if user is not None:
            out["user"] = self.account(user)
        return out

    def commit(
        self, repo: Repository, c: Commit, *, with_repo: bool = True, summary: bool = True
    ) -> Json:
        """A commit; ref targets in API answers carry no ``summary``, in webhooks no
        ``repository``."""
        base = self.api(f"/repositories/{repo.full_path}")
        out: Json = {
            "type": "commit",
            "hash": c.id,
            "date": utc(c.authored_date),
            "author": self.author(c.author_name, c.author_email),
            "message": c.message,
        }
        if summary:
            out["summary"] = {
                "type": "rendered",
                "raw": c.message,
                "markup": "markdown",
                "html": f"<p>{html.escape(c.message.strip())}</p>",
            }
        out["links"] = {
            "self": href(f"{base}/commit/{c.id}"),
            "html": href(self.html(f"{repo.full_path}/commits/{c.id}")),
            "diff": href(f"{base}/diff/{c.id}"),
            "approve": href(f"{base}/commit/{c.id}/approve"),
            "comments": href(f"{base}/commit/{c.id}/comments"),
            "statuses": href(f"{base}/commit/{c.id}/statuses"),
            "patch": href(f"{base}/patch/{c.id}"),
        }
        out["parents"] = [self.commit_ref(repo, p) for p in c.parent_ids]
        if with_repo:
            out["repository"] = self.repo_ref(repo)
        return out

    def ref_links(self, repo: Repository, kind: str, name: str) -> Json:
        base = self.api(f"/repositories/{repo.full_path}")
        plural = "branches" if kind == "branch" else "tags"
        page = "branch" if kind == "branch" else "commits/tag"
        return {
            "self": href(f"{base}/refs/{plural}/{name}"),
            "commits": href(f"{base}/commits/{name}"),
            "html": href(self.html(f"{repo.full_path}/{page}/{name}")),
        }

    def branch(self, repo: Repository, name: str, c: Commit) -> Json:
        return {
            "name": name,
            "target": self.commit(repo, c, summary=False),
            "links": self.ref_links(repo, "branch", name),
            "type": "branch",
            "merge_strategies": list(MERGE_STRATEGIES),
            "default_merge_strategy": "merge_commit",
        }

    def tag(self, repo: Repository, name: str, c: Commit, message: str | None) -> Json:
        return {
            "name": name,
            "target": self.commit(repo, c, summary=False),
            "links": self.ref_links(repo, "tag", name),
            "type": "tag",
            "message": message,
            "date": utc(c.committed_date) if message is not None else None,
            "tagger": self.author(c.committer_name, c.committer_email) if message else None,
        }

    def status(self, repo: Repository, st: CommitStatus) -> Json:
        base = self.api(f"/repositories/{repo.full_path}/commit/{st.sha}")
        return {
            "type": "build",
            "links": {
                "self": href(f"{base}/statuses/build/{st.context}"),
                "commit": href(base),
            },
            "uuid": braced("status", st.id),
            "key": st.context,
            "refname": st.ref,
            "url": st.target_url,
            "state": st.state,
            "name": st.attrs.get("name") or st.context,
            "description": st.description or "",
            "created_on": stamp(st.created_at),
            "updated_on": stamp(st.attrs.get("updated_on", st.created_at)),
            "commit": self.commit_ref(repo, st.sha),
            "repository": self.repo_ref(repo),
        }


def ref_side(
    shapes: GitShapes, repo: Repository, kind: str, name: str, c: Commit, message: str | None
) -> Json:
    """A change's ``old`` / ``new`` in ``repo:push``: its target commit has only ``self``
    and ``html`` links and no repository; tags add ``message``, ``date`` and ``tagger``
    (null for lightweight tags)."""
    target = shapes.commit(repo, c, with_repo=False)
    target["links"] = {key: target["links"][key] for key in ("self", "html")}
    out: Json = {
        "type": kind,
        "name": name,
        "target": target,
        "links": shapes.ref_links(repo, kind, name),
    }
    if kind == "branch":
        out["merge_strategies"] = list(MERGE_STRATEGIES)
        out["default_merge_strategy"] = "merge_commit"
    else:
        out["message"] = message
        out["date"] = target["date"] if message is not None else None
        out["tagger"] = target["author"] if message is not None else None
    return out
