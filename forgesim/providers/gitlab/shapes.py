"""API v4 answer shapes, key for key those of the published GitLab examples
(``shared/forge-examples/gitlab/api``); ``shapes_v3`` overrides what v3 answered."""

from __future__ import annotations

from typing import Any

from forgesim import access
from forgesim.core import Core
from forgesim.gitrepo import Commit
from forgesim.models import CommitStatus, Hook, Namespace, Repository, Token, User

Json = dict[str, Any]
VISIBILITY_LEVEL = {"private": 0, "internal": 10, "public": 20}
HOOK_EVENTS = (  # hook switches a client may set, with GitLab's defaults
    ("push_events", True),
    ("issues_events", False),
    ("confidential_issues_events", False),
    ("merge_requests_events", False),
    ("tag_push_events", False),
    ("note_events", False),
    ("confidential_note_events", False),
    ("job_events", False),
    ("pipeline_events", False),
    ("wiki_page_events", False),
    ("deployment_events", False),
    ("releases_events", False),
    ("repository_update_events", False),
)


def git_date(value: str) -> str:
    """git's strict ISO date with GitLab's milliseconds: 2012-06-27T05:51:39.000-07:00."""
    return value[:19] + ".000" + (value[19:] or "Z")


class Shapes:
    version = "v4"

    def __init__(self, core: Core) -> None:
        self.core = core

    def api(self, path: str) -> str:
        return f"{self.core.base_url}/api/{self.version}{path}"

    def avatar(self, user: User) -> str:
        return self.core.web_url(f"uploads/-/system/user/avatar/{user.id}/avatar.png")

    # people ---------------------------------------------------------------------------
    def user_basic(self, user: User) -> Json:
        return {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "state": "active",
            "avatar_url": self.avatar(user),
            "web_url": self.core.web_url(user.username),
        }

    def user_public(self, user: User) -> Json:
        return {
            **self.user_basic(user),
            "created_at": user.created_at,
            "bio": "",
            "bot": False,
            "location": "",
            "public_email": "",
            "skype": "",
            "linkedin": "",
            "twitter": "",
            "website_url": "",
            "organization": "",
            "job_title": "",
            "followers": 0,
            "following": 0,
        }

    def user(self, user: User) -> Json:
        """GET /user: the authenticated user's own, fuller record."""
        return {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "name": user.name,
            "state": "active",
            "avatar_url": self.avatar(user),
            "web_url": self.core.web_url(user.username),
            "created_at": user.created_at,
            "bio": None,
            "location": None,
            "skype": "",
            "linkedin": "",
            "twitter": "",
            "website_url": "",
            "organization": "",
            "last_sign_in_at": user.created_at,
            "confirmed_at": user.created_at,
            "theme_id": 1,
            "last_activity_on": user.created_at[:10],
            "color_scheme_id": 1,
            "projects_limit": 100000,
            "current_sign_in_at": user.created_at,
            "identities": [],
            "can_create_group": True,
            "can_create_project": True,
            "two_factor_enabled": False,
            "external": False,
        }

    def token(self, token: Token) -> Json:
        return {
            "id": token.id,
            "name": token.name,
            "revoked": token.revoked,
            "created_at": token.created_at,
            "scopes": list(token.scopes),
            "user_id": token.user_id,
            "last_used_at": token.last_used_at,
            "active": token.active(),
            "expires_at": token.expires_at,
        }

    # namespaces -------------------------------------------------------------------------
    def namespace_ref(self, ns: Namespace) -> Json:
        return {
            "id": ns.id,
            "name": ns.name,
            "path": ns.leaf,
            "kind": ns.kind,
            "full_path": ns.path,
            "parent_id": ns.parent_id,
        }

    def namespace(self, ns: Namespace) -> Json:
        return {
            **self.namespace_ref(ns),
            "avatar_url": None,
            "web_url": self.core.web_url(("groups/" if ns.kind == "group" else "") + ns.path),
        }

    def group(self, ns: Namespace) -> Json:
        full_name = " / ".join(
            n.name for n in reversed(list(access.ancestors(self.core.state, ns)))
        )
        return {
            "id": ns.id,
            "web_url": self.core.web_url(f"groups/{ns.path}"),
            "name": ns.name,
            "path": ns.leaf,
            "description": ns.description,
            "visibility": ns.visibility,
            "share_with_group_lock": False,
            "require_two_factor_authentication": False,
            "two_factor_grace_period": 48,
            "project_creation_level": "developer",
            "auto_devops_enabled": None,
            "subgroup_creation_level": "maintainer",
            "emails_disabled": False,
            "emails_enabled": True,
            "mentions_disabled": None,
            "lfs_enabled": True,
            "default_branch_protection": 2,
            "avatar_url": None,
            "request_access_enabled": True,
            "full_name": full_name,
            "full_path": ns.path,
            "created_at": ns.created_at,
            "parent_id": ns.parent_id,
        }

    # projects ---------------------------------------------------------------------------
    def _access(self, level: int) -> Json | None:
        return {"access_level": level, "notification_level": 3} if level else None

    def permissions(self, repo: Repository, user: User | None) -> Json:
        state = self.core.state
        ns = state.namespaces[repo.namespace_id]
        member = repo.members.get(user.username, 0) if user else 0
        inherited = access.namespace_level(state, user, ns)
        if ns.kind == "user":  # a personal project: its owner's access is project access
            member, inherited = max(member, inherited), 0
        return {"project_access": self._access(member), "group_access": self._access(inherited)}

    def project(self, repo: Repository, user: User | None, *, single: bool = False) -> Json:
        ns = self.core.state.namespaces[repo.namespace_id]
        web = self.core.web_url(repo.full_path)
        api = self.api(f"/projects/{repo.id}")
        out = {
            "id": repo.id,
            "description": repo.description,
            "default_branch": repo.default_branch,
            "tag_list": [],
            "ssh_url_to_repo": self.ssh_url(repo),
            "http_url_to_repo": self.core.git_url(repo.full_path),
            "web_url": web,
            "name": repo.name,
            "name_with_namespace": f"{ns.name} / {repo.name}",
            "path": repo.path,
            "path_with_namespace": repo.full_path,
            "avatar_url": None,
            "star_count": 0,
            "forks_count": 0,
            "created_at": repo.created_at,
            "last_activity_at": repo.last_activity_at,
            "_links": {
                "self": api,
                "issues": api + "/issues",
                "merge_requests": api + "/merge_requests",
                "repo_branches": api + "/repository/branches",
                "labels": api + "/labels",
                "events": api + "/events",
                "members": api + "/members",
            },
            "archived": False,
            "visibility": repo.visibility,
            "resolve_outdated_diff_discussions": False,
            "container_registry_enabled": False,
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "wiki_enabled": True,
            "jobs_enabled": True,
            "snippets_enabled": True,
            "shared_runners_enabled": True,
            "lfs_enabled": True,
            "creator_id": repo.creator_id or 1,
            "namespace": self.namespace_ref(ns),
            "import_status": "none",
            "open_issues_count": 0,
            "public_jobs": True,
            "ci_config_path": None,
            "shared_with_groups": [],
            "only_allow_merge_if_pipeline_succeeds": False,
            "request_access_enabled": True,
            "only_allow_merge_if_all_discussions_are_resolved": False,
            "printing_merge_request_link_enabled": True,
            "approvals_before_merge": 0,
        }
        if single:
            out["permissions"] = self.permissions(repo, user)
        return out

    def ssh_url(self, repo: Repository) -> str:
        host = self.core.base_url.split("://", 1)[1].rsplit(":", 1)[0]
        return f"git@{host}:{repo.full_path}.git"

    # hooks and statuses ----------------------------------------------------------------------
    def hook(self, hook: Hook) -> Json:
        out: Json = {"id": hook.id, "url": hook.url, "project_id": hook.repo_id}
        out.update({name: bool(hook.attrs.get(name, default)) for name, default in HOOK_EVENTS})
        out["push_events_branch_filter"] = hook.attrs.get("push_events_branch_filter", "")
        out.update(
            enable_ssl_verification=hook.ssl_verify,
            alert_status=hook.alert_status,
            disabled_until=hook.disabled_until,
            created_at=hook.created_at,
        )
        return out

    def status(self, st: CommitStatus) -> Json:
        author = self.core.state.users.get(st.author_id or 0)
        return {
            "id": st.id,
            "sha": st.sha,
            "ref": st.ref,
            "status": st.state,
            "name": st.context,
            "target_url": st.target_url,
            "description": st.description,
            "created_at": st.created_at,
            "started_at": st.attrs.get("started_at"),
            "finished_at": st.attrs.get("finished_at"),
            "allow_failure": False,
            "coverage": st.attrs.get("coverage"),
            "pipeline_id": st.attrs.get("pipeline_id"),
            "author": self.user_basic(author) if author else None,
        }

    # git objects ------------------------------------------------------------------------
    def commit(self, c: Commit) -> Json:
        return {
            "author_email": c.author_email,
            "author_name": c.author_name,
            "authored_date": git_date(c.authored_date),
            "committed_date": git_date(c.committed_date),
            "committer_email": c.committer_email,
            "committer_name": c.committer_name,
            "id": c.id,
            "short_id": c.short_id,
            "title": c.title,
            "message": c.message,
            "parent_ids": list(c.parent_ids),
        }

    def commit_detail(self, c: Commit, repo: Repository) -> Json:
        return {
            **self.commit(c),
            "created_at": git_date(c.committed_date),
            "web_url": self.core.web_url(f"{repo.full_path}/-/commit/{c.id}"),
            "trailers": {},
            "extended_trailers": {},
            "status": None,
            "project_id": repo.id,
            "last_pipeline": None,
        }

    def branch(self, repo: Repository, name: str, c: Commit, *, in_list: bool) -> Json:
        out = {
            "name": name,
            "merged": False,
            "protected": name == repo.default_branch,
            "default": name == repo.default_branch,
            "developers_can_push": False,
            "developers_can_merge": False,
            "can_push": True,
        }
        if in_list:
            out["web_url"] = self.core.web_url(f"{repo.full_path}/-/tree/{name}")
        out["commit"] = self.commit(c)
        return out

    def tag(self, repo: Repository, name: str, target: str, c: Commit, msg: str | None) -> Json:
        return {
            "name": name,
            "message": msg or "",
            "target": target,
            "commit": self.commit_detail(c, repo),
            "release": None,
            "protected": False,
            "created_at": git_date(c.committed_date) if msg is not None else None,
        }
