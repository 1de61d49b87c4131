"""API v3 shapes (GitLab 8.x to 10.x): ``public`` and ``visibility_level`` instead of
``visibility``, ``owner`` on personal projects, ``build_events`` on hooks, no
``_links``; users carry ``is_admin``."""

from __future__ import annotations

from forgesim.gitrepo import Commit
from forgesim.models import Hook, Namespace, Repository, User
from forgesim.providers.gitlab.shapes import VISIBILITY_LEVEL, Json, Shapes, git_date


class ShapesV3(Shapes):
    version = "v3"

    def user(self, user: User) -> Json:
        return {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "name": user.name,
            "state": "active",
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
            "color_scheme_id": 1,
            "projects_limit": 100000,
            "current_sign_in_at": user.created_at,
            "identities": [],
            "can_create_group": True,
            "can_create_project": True,
            "two_factor_enabled": False,
            "external": False,
            "is_admin": user.admin,
            "avatar_url": self.avatar(user),
            "web_url": self.core.web_url(user.username),
        }

    def namespace(self, ns: Namespace) -> Json:
        return {
            "id": ns.id,
            "name": ns.name,
            "path": ns.leaf,
            "kind": ns.kind,
            "full_path": ns.path,
        }

    def group(self, ns: Namespace) -> Json:
        return {
            "id": ns.id,
            "name": ns.name,
            "path": ns.leaf,
            "description": ns.description,
            "visibility_level": VISIBILITY_LEVEL.get(ns.visibility, 0),
            "lfs_enabled": True,
            "avatar_url": None,
            "web_url": self.core.web_url(f"groups/{ns.path}"),
            "request_access_enabled": False,
            "full_name": ns.name,
            "full_path": ns.path,
            "parent_id": ns.parent_id,
        }

    def project(self, repo: Repository, user: User | None, *, single: bool = False) -> Json:
        ns = self.core.state.namespaces[repo.namespace_id]
        owner = self.core.state.users.get(ns.owner_id or 0) if ns.kind == "user" else None
        out: Json = {
            "id": repo.id,
            "description": repo.description,
            "default_branch": repo.default_branch,
            "tag_list": [],
            "public": not repo.private,
            "archived": False,
            "visibility_level": VISIBILITY_LEVEL[repo.visibility],
            "ssh_url_to_repo": self.ssh_url(repo),
            "http_url_to_repo": self.core.git_url(repo.full_path),
            "web_url": self.core.web_url(repo.full_path),
            "name": repo.name,
            "name_with_namespace": f"{ns.name} / {repo.name}",
            "path": repo.path,
            "path_with_namespace": repo.full_path,
            "container_registry_enabled": False,
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "wiki_enabled": True,
            "builds_enabled": True,
            "snippets_enabled": False,
            "created_at": repo.created_at,
            "last_activity_at": repo.last_activity_at,
            "shared_runners_enabled": True,
            "lfs_enabled": True,
            "creator_id": repo.creator_id or 1,
            "namespace": {
                "id": ns.id,
                "name": ns.name,
                "path": ns.leaf,
                "kind": ns.kind,
                "full_path": ns.path,
            },
            "avatar_url": None,
            "star_count": 0,
            "forks_count": 0,
            "open_issues_count": 0,
            "public_builds": True,
            "shared_with_groups": [],
            "only_allow_merge_if_build_succeeds": False,
            "request_access_enabled": False,
            "only_allow_merge_if_all_discussions_are_resolved": False,
            "permissions": self.permissions(repo, user),
        }
        if owner is not None:
            out["owner"] = {
                "id": owner.id,
                "name": owner.name,
                "username": owner.username,
                "state": "active",
                "avatar_url": self.avatar(owner),
                "web_url": self.core.web_url(owner.username),
            }
        return out

    def hook(self, hook: Hook) -> Json:
        out = super().hook(hook)
        out["build_events"] = out.pop("job_events")
        for newer in (
            "alert_status",
            "disabled_until",
            "push_events_branch_filter",
            "confidential_note_events",
            "deployment_events",
            "releases_events",
            "repository_update_events",
        ):
            out.pop(newer)
        return out

    def commit(self, c: Commit) -> Json:
        return {
            "id": c.id,
            "message": c.message,
            "parent_ids": list(c.parent_ids),
            "authored_date": git_date(c.authored_date),
            "author_name": c.author_name,
            "author_email": c.author_email,
            "committed_date": git_date(c.committed_date),
            "committer_name": c.committer_name,
            "committer_email": c.committer_email,
        }

    def commit_detail(self, c: Commit, repo: Repository) -> Json:
        return {
            "id": c.id,
            "short_id": c.short_id,
            "title": c.title,
            "author_name": c.author_name,
            "author_email": c.author_email,
            "created_at": git_date(c.committed_date),
            "message": c.message,
            "committed_date": git_date(c.committed_date),
            "authored_date": git_date(c.authored_date),
            "parent_ids": list(c.parent_ids),
            "status": None,
        }

    def branch(self, repo: Repository, name: str, c: Commit, *, in_list: bool) -> Json:
        return {
            "name": name,
            "protected": name == repo.default_branch,
            "developers_can_push": False,
            "developers_can_merge": False,
            "merged": False,
            "commit": self.commit(c),
        }
