"""Users, organizations and repositories as GitHub (Enterprise) renders them, key for key
those of the published examples (``shared/forge-examples/github``).

Users and organizations both own repositories: a forgesim user namespace is a GitHub
user, a group namespace is an organization (flat: GitHub has no subgroups).
"""

from __future__ import annotations

import base64
from typing import Any

from forgesim import access
from forgesim.core import Core
from forgesim.models import DEVELOPER, MAINTAINER, OWNER, REPORTER, Namespace, Repository, User
from forgesim.providers.github.replies import iso

Json = dict[str, Any]
_USER_LINKS = (
    ("followers_url", "/followers"),
    ("following_url", "/following{/other_user}"),
    ("gists_url", "/gists{/gist_id}"),
    ("starred_url", "/starred{/owner}{/repo}"),
    ("subscriptions_url", "/subscriptions"),
    ("organizations_url", "/orgs"),
    ("repos_url", "/repos"),
    ("events_url", "/events{/privacy}"),
    ("received_events_url", "/received_events"),
)
_REPO_LINKS = (
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)


MERGE_SETTINGS: Json = {
    "allow_squash_merge": True,
    "allow_merge_commit": True,
    "allow_rebase_merge": True,
    "allow_auto_merge": False,
    "delete_branch_on_merge": False,
    "allow_update_branch": False,
    "use_squash_pr_title_as_default": False,
    "squash_merge_commit_message": "COMMIT_MESSAGES",
    "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
    "merge_commit_message": "PR_TITLE",
    "merge_commit_title": "MERGE_MESSAGE",
}


ORG_ID_BASE = 1_000_000  # users and organizations share GitHub's id space


def org_id(ns: Namespace) -> int:
    return ORG_ID_BASE + ns.id


def node_id(kind: str, ident: int) -> str:
    """GitHub's legacy global node ids: base64 of ``04:User1``."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{ident}".encode()).decode()


class Shapes:
    def __init__(self, core: Core) -> None:
        self.core = core

    def api(self, path: str) -> str:
        return self.core.api_url + path

    def html(self, path: str) -> str:
        return self.core.web_url(path)

    # accounts -------------------------------------------------------------------------
    def _account(self, login: str, ident: int, kind: str) -> Json:
        base = self.api(f"/users/{login}")
        out: Json = {
            "login": login,
            "id": ident,
            "node_id": node_id(kind, ident),
            "avatar_url": self.html(f"avatars/u/{ident}?v=4"),
            "gravatar_id": "",
            "url": base,
            "html_url": self.html(login),
        }
        out.update({key: base + suffix for key, suffix in _USER_LINKS})
        out.update({"type": kind, "user_view_type": "public", "site_admin": False})
        return out

    def user_simple(self, user: User) -> Json:
        out = self._account(user.username, user.id, "User")
        out["site_admin"] = user.admin
        return out

    def owner(self, ns: Namespace) -> Json:
        """The simple account that owns ``ns``'s repositories (a user or an organization)."""
        if ns.kind == "user" and ns.owner_id in self.core.state.users:
            return self.user_simple(self.core.state.users[ns.owner_id])
        return self._account(ns.path, org_id(ns), "Organization")

    def user(self, user: User, *, private: bool = False) -> Json:
        """``GET /users/:u``; ``private`` adds what ``GET /user`` shows its owner."""
        state = self.core.state
        ns = state.namespaces.get(user.namespace_id)
        repos = [r for r in state.repos.values() if ns is not None and r.namespace_id == ns.id]
        out = {
            **self.user_simple(user),
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "notification_email": user.email,
            "public_repos": sum(1 for r in repos if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.created_at),
        }
        if private:
            owned = sum(1 for r in repos if r.private)
            out.update(
                {
                    "private_gists": 0,
                    "total_private_repos": owned,
                    "owned_private_repos": owned,
                    "disk_usage": 0,
                    "collaborators": 0,
                    "two_factor_authentication": False,
                    "plan": {
                        "name": "enterprise",
                        "space": 976562499,
                        "collaborators": 0,
                        "private_repos": 9999,
                    },
                }
            )
        return out

    def org_simple(self, ns: Namespace) -> Json:
        base = self.api(f"/orgs/{ns.path}")
        return {
            "login": ns.path,
            "id": org_id(ns),
            "node_id": node_id("Organization", org_id(ns)),
            "url": base,
            "repos_url": base + "/repos",
            "events_url": base + "/events",
            "hooks_url": base + "/hooks",
            "issues_url": base + "/issues",
            "members_url": base + "/members{/member}",
            "public_members_url": base + "/public_members{/member}",
            "avatar_url": self.html(f"avatars/u/{org_id(ns)}?v=4"),
            "description": ns.description or None,
        }

    def org(self, ns: Namespace, *, member: bool) -> Json:
        repos = [r for r in self.core.state.repos.values() if r.namespace_id == ns.id]
        out = {
            **self.org_simple(ns),
            "name": ns.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "twitter_username": None,
            "is_verified": False,
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": sum(1 for r in repos if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "html_url": self.html(ns.path),
            "created_at": iso(ns.created_at),
            "updated_at": iso(ns.created_at),
            "archived_at": None,
            "type": "Organization",
        }
        if member:
            private = sum(1 for r in repos if r.private)
            out.update(
                {
                    "total_private_repos": private,
                    "owned_private_repos": private,
                    "private_gists": 0,
                    "disk_usage": 0,
                    "collaborators": 0,
                    "default_repository_permission": "read",
                    "members_can_create_repositories": True,
                    "two_factor_requirement_enabled": False,
                }
            )
        return out

    # repositories -----------------------------------------------------------------------
    def permissions(self, repo: Repository, user: User | None) -> Json:
        level = OWNER if user and user.admin else access.repo_level(self.core.state, user, repo)
        readable = level >= REPORTER or not repo.private
        return {
            "admin": level >= MAINTAINER,
            "maintain": level >= MAINTAINER,
            "push": level >= DEVELOPER,
            "triage": level >= REPORTER,
            "pull": readable,
        }

    def repo_urls(self, repo: Repository) -> Json:
        base = self.api(f"/repos/{repo.full_path}")
        return {key: base + suffix for key, suffix in _REPO_LINKS}

    def repo_base(self, repo: Repository) -> Json:
        """What REST answers and webhook payloads share, in GitHub's key order."""
        ns = self.core.state.namespaces[repo.namespace_id]
        html = self.html(repo.full_path)
        host = self.core.base_url.split("://", 1)[-1].rsplit(":", 1)[0]
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_path,
            "private": repo.private,
            "owner": self.owner(ns),
            "html_url": html,
            "description": repo.description or None,
            "fork": False,
            "url": self.api(f"/repos/{repo.full_path}"),
            **self.repo_urls(repo),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.last_activity_at or repo.created_at),
            "pushed_at": iso(repo.last_activity_at or repo.created_at),
            "git_url": f"git://{host}/{repo.full_path}.git",
            "ssh_url": f"git@{host}:{repo.full_path}.git",
            "clone_url": self.core.git_url(repo.full_path),
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": repo.visibility,
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": repo.default_branch,
        }

    def repo(self, repo: Repository, user: User | None, *, single: bool = False) -> Json:
        out = self.repo_base(repo)
        if user is not None:
            out["permissions"] = self.permissions(repo, user)
        if single:
            ns = self.core.state.namespaces[repo.namespace_id]
            out["temp_clone_token"] = None
            if user is not None and out["permissions"]["admin"]:
                out.update(MERGE_SETTINGS)  # GitHub shows these to admins only
            if ns.kind == "group":
                out["organization"] = self.owner(ns)
            out.update({"network_count": 0, "subscribers_count": 0})
        return out
