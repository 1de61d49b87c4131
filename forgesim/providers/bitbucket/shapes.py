"""Bitbucket Cloud objects, key for key those of the published examples
(``shared/forge-examples/bitbucket-cloud``).

Every forgesim namespace is a workspace (a user's own namespace is their personal
workspace); each workspace has one project, keyed by the upper-cased slug, because
Bitbucket Cloud repositories always belong to a project. Ids are stable uuids derived
from forgesim's numeric ids.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from forgesim.core import Core
from forgesim.models import Hook, Namespace, Repository, User

Json = dict[str, Any]
_SEED = uuid.UUID("0f4e1a52-3c1b-4b4e-9d55-6b0a1f2c7e01")


def braced(kind: str, ident: int | str) -> str:
    return "{" + str(uuid.uuid5(_SEED, f"{kind}:{ident}")) + "}"


def stamp(value: str) -> str:
    """forgesim's ``...58.123Z`` to Bitbucket's ``...58.123000+00:00``."""
    return value[:23] + "000+00:00"


def href(url: str) -> Json:
    return {"href": url}


class Shapes:
    def __init__(self, core: Core) -> None:
        self.core = core

    def api(self, path: str) -> str:
        return self.core.api_url + path

    def html(self, path: str) -> str:
        return self.core.web_url(path)

    # accounts ---------------------------------------------------------------------------
    def account(self, user: User) -> Json:
        ident = braced("user", user.id)
        return {
            "display_name": user.name,
            "links": {
                "self": href(self.api(f"/users/{quote(ident)}")),
                "avatar": href(self.html(f"account/{user.username}/avatar/32/")),
                "html": href(self.html(f"{quote(ident)}/")),
            },
            "type": "user",
            "uuid": ident,
            "account_id": f"557058:{ident[1:-1]}",
            "nickname": user.username,
            "username": user.username,
        }

    def me(self, user: User) -> Json:
        """``GET /2.0/user``: the caller's own, fuller account."""
        out = self.account(user)
        base = self.api(f"/users/{user.username}")
        out["links"].update(
            {
                "followers": href(base + "/followers"),
                "following": href(base + "/following"),
                "hooks": href(base + "/hooks"),
                "repositories": href(self.api(f"/repositories/{user.username}")),
                "snippets": href(self.api(f"/snippets/{user.username}")),
            }
        )
        out.update(
            {
                "website": None,
                "created_on": stamp(user.created_at),
                "is_staff": False,
                "location": None,
                "account_status": "active",
                "has_2fa_enabled": None,
            }
        )
        return out

    def owner(self, ns: Namespace) -> Json:
        if ns.kind == "user" and ns.owner_id in self.core.state.users:
            return self.account(self.core.state.users[ns.owner_id])
        ident = braced("workspace", ns.id)
        return {
            "display_name": ns.name,
            "links": {
                "self": href(self.api(f"/workspaces/{quote(ident)}")),
                "avatar": href(self.html(f"workspaces/{ns.path}/avatar/")),
                "html": href(self.html(f"{ns.path}/")),
            },
            "type": "team",
            "uuid": ident,
            "username": ns.path,
        }

    # workspaces and projects -------------------------------------------------------------
    def workspace_ref(self, ns: Namespace) -> Json:
        return {
            "type": "workspace",
            "uuid": braced("workspace", ns.id),
            "name": ns.name,
            "slug": ns.path,
            "links": {
                "avatar": href(self.html(f"workspaces/{ns.path}/avatar/")),
                "html": href(self.html(f"{ns.path}/")),
                "self": href(self.api(f"/workspaces/{ns.path}")),
            },
        }

    def workspace(self, ns: Namespace) -> Json:
        base = self.api(f"/workspaces/{ns.path}")
        out = self.workspace_ref(ns)
        out["links"].update(
            {
                "members": href(base + "/members"),
                "owners": href(base + "/members?q=permission%3D%22owner%22"),
                "projects": href(base + "/projects"),
                "repositories": href(self.api(f"/repositories/{ns.path}")),
                "snippets": href(self.api(f"/snippets/{ns.path}")),
                "hooks": href(base + "/hooks"),
            }
        )
        out.update(
            {
                "is_private": ns.visibility != "public",
                "is_privacy_enforced": False,
                "created_on": stamp(ns.created_at),
                "updated_on": stamp(ns.created_at),
            }
        )
        return out

    def project(self, ns: Namespace) -> Json:
        key = "".join(ch for ch in ns.path.upper() if ch.isalnum()) or "PROJ"
        return {
            "type": "project",
            "key": key,
            "uuid": braced("project", ns.id),
            "name": ns.name,
            "links": {
                "self": href(self.api(f"/workspaces/{ns.path}/projects/{key}")),
                "html": href(self.html(f"{ns.path}/workspace/projects/{key}")),
                "avatar": href(self.html(f"account/user/{ns.path}/projects/{key}/avatar/32")),
            },
        }

    # repositories -----------------------------------------------------------------------
    def repo_ref(self, repo: Repository) -> Json:
        return {
            "type": "repository",
            "full_name": repo.full_path,
            "links": {
                "self": href(self.api(f"/repositories/{repo.full_path}")),
                "html": href(self.html(repo.full_path)),
                "avatar": href(self.html(f"{repo.full_path}/avatar/32/")),
            },
            "name": repo.name,
            "uuid": braced("repo", repo.id),
        }

    def repository(self, repo: Repository, viewer: User | None = None) -> Json:
        ns = self.core.state.namespaces[repo.namespace_id]
        base = self.api(f"/repositories/{repo.full_path}")
        clone = self.core.git_url(repo.full_path)
        if viewer is not None:
            scheme, _, rest = clone.partition("://")
            clone = f"{scheme}://{viewer.username}@{rest}"
        host = self.core.base_url.split("://", 1)[-1].rsplit(":", 1)[0]
        out = self.repo_ref(repo)
        out["links"].update(
            {
                "pullrequests": href(base + "/pullrequests"),
                "commits": href(base + "/commits"),
                "forks": href(base + "/forks"),
                "watchers": href(base + "/watchers"),
                "branches": href(base + "/refs/branches"),
                "tags": href(base + "/refs/tags"),
                "downloads": href(base + "/downloads"),
                "source": href(base + "/src"),
                "clone": [
                    {"name": "https", "href": clone},
                    {"name": "ssh", "href": f"git@{host}:{repo.full_path}.git"},
                ],
                "hooks": href(base + "/hooks"),
            }
        )
        out.update(
            {
                "slug": repo.path,
                "description": repo.description,
                "scm": "git",
                "website": "",
                "owner": self.owner(ns),
                "workspace": self.workspace_ref(ns),
                "is_private": repo.private,
                "project": self.project(ns),
                "fork_policy": "no_public_forks" if repo.private else "allow_forks",
                "created_on": stamp(repo.created_at),
                "updated_on": stamp(repo.last_activity_at or repo.created_at),
                "size": 0,
                "language": "",
                "uuid": braced("repo", repo.id),
                "mainbranch": {"name": repo.default_branch, "type": "branch"},
                "has_issues": False,
                "has_wiki": False,
                "parent": None,
            }
        )
        return out

    # hooks ------------------------------------------------------------------------------
    def hook(self, repo: Repository, hook: Hook) -> Json:
        ident = "{" + hook.uuid + "}"
        subject = self.repo_ref(repo)
        return {
            "read_only": False,
            "description": hook.attrs.get("description", ""),
            "links": {
                "self": href(self.api(f"/repositories/{repo.full_path}/hooks/{quote(ident)}"))
            },
            "url": hook.url,
            "created_at": hook.created_at[:23] + "000Z",
            "skip_cert_verification": not hook.ssl_verify,
            "source": None,
            "active": hook.active,
            "subject": subject,
            "subject_type": "repository",
            "type": "webhook_subscription",
            "events": list(hook.attrs.get("events", [])),
            "uuid": ident,
            "secret_set": bool(hook.secret),
        }
