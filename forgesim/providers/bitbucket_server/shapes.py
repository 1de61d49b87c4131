"""Bitbucket Server objects, key for key those of the published examples
(``shared/forge-examples/bitbucket-server``). Times are epoch milliseconds.

Every forgesim group namespace is a project whose key is its path upper-cased; clone
URLs are ``{url}/scm/{key lower-cased}/{slug}.git``.
"""

from __future__ import annotations

from typing import Any

from forgesim.core import Core
from forgesim.gitrepo import Commit
from forgesim.models import CommitStatus, Hook, Namespace, Repository, User, parse_iso

Json = dict[str, Any]
VERSION, BUILD_NUMBER = "8.19.1", "8019001"


def millis(stamp: str) -> int:
    return int(parse_iso(stamp).timestamp() * 1000)


def key_of(ns: Namespace) -> str:
    return ns.path.upper()


def links(url: str) -> Json:
    return {"self": [{"href": url}]}


class Shapes:
    def __init__(self, core: Core) -> None:
        self.core = core

    def web(self, path: str) -> str:
        return self.core.web_url(path)

    def user(self, user: User, *, with_links: bool = True) -> Json:
        """A user; webhook payloads carry no ``links``."""
        out: Json = {
            "name": user.username,
            "emailAddress": user.email,
            "id": user.id,
            "displayName": user.name,
            "active": True,
            "slug": user.username.lower(),
            "type": "NORMAL",
        }
        if with_links:
            out["links"] = links(self.web(f"users/{user.username.lower()}"))
        return out

    def project(self, ns: Namespace, *, with_links: bool = True) -> Json:
        key = key_of(ns)
        out: Json = {"key": key, "id": ns.id, "name": ns.name}
        if ns.description:
            out["description"] = ns.description
        out.update({"public": ns.visibility == "public", "type": "NORMAL"})
        if with_links:
            out["links"] = links(self.web(f"projects/{key}"))
        return out

    def clone_url(self, repo: Repository, user: User | None = None) -> str:
        ns = self.core.state.namespaces[repo.namespace_id]
        url = self.core.git_url(f"{key_of(ns).lower()}/{repo.path.lower()}")
        if user is not None:
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://{user.username}@{rest}"
        return url

    def payload_repository(self, repo: Repository) -> Json:
        """The lean repository of webhook payloads (no links, as current servers send)."""
        ns = self.core.state.namespaces[repo.namespace_id]
        return {
            "slug": repo.path.lower(),
            "id": repo.id,
            "name": repo.name,
            "scmId": "git",
            "state": "AVAILABLE",
            "statusMessage": "Available",
            "forkable": True,
            "project": self.project(ns, with_links=False),
            "public": not repo.private,
        }

    def repository(self, repo: Repository, viewer: User | None = None) -> Json:
        ns = self.core.state.namespaces[repo.namespace_id]
        key = key_of(ns)
        host = self.core.base_url.split("://", 1)[-1].rsplit(":", 1)[0]
        slug = repo.path.lower()
        return {
            "slug": slug,
            "id": repo.id,
            "name": repo.name,
            "hierarchyId": f"{repo.id:020x}"[-20:],
            "scmId": "git",
            "state": "AVAILABLE",
            "statusMessage": "Available",
            "forkable": True,
            "project": self.project(ns),
            "public": not repo.private,
            "archived": False,
            "links": {
                "clone": [
                    {"href": f"ssh://git@{host}:7999/{key.lower()}/{slug}.git", "name": "ssh"},
                    {"href": self.clone_url(repo, viewer), "name": "http"},
                ],
                "self": [{"href": self.web(f"projects/{key}/repos/{slug}/browse")}],
            },
        }

    # git objects ------------------------------------------------------------------------
    def person(self, name: str, email: str) -> Json:
        found = next((u for u in self.core.state.users.values() if u.email == email), None)
        if found is not None:
            return self.user(found)
        return {"name": name, "emailAddress": email}

    def commit(self, c: Commit) -> Json:
        return {
            "id": c.id,
            "displayId": c.id[:11],
            "author": self.person(c.author_name, c.author_email),
            "authorTimestamp": millis(c.authored_date),
            "committer": self.person(c.committer_name, c.committer_email),
            "committerTimestamp": millis(c.committed_date),
            "message": c.message.rstrip("\n"),
            "parents": [{"id": p, "displayId": p[:11]} for p in c.parent_ids],
        }

    def ref(
        self, name: str, sha: str, *, default: str | None = None, tag: str | None = None
    ) -> Json:
        """A branch (``default`` is the repository's default branch) or, with ``tag``, a tag
        (``tag`` is the tag object id, equal to ``sha`` for lightweight tags)."""
        is_tag = tag is not None
        prefix = "refs/tags/" if is_tag else "refs/heads/"
        out: Json = {
            "id": prefix + name,
            "displayId": name,
            "type": "TAG" if is_tag else "BRANCH",
            "latestCommit": sha,
            "latestChangeset": sha,
        }
        if is_tag:
            out["hash"] = tag if tag != sha else None
        else:
            out["isDefault"] = name == default
        return out

    # hooks and build statuses -------------------------------------------------------------
    def hook(self, hook: Hook) -> Json:
        configuration: Json = {}
        if hook.secret:
            configuration["secret"] = hook.secret
        return {
            "id": hook.id,
            "name": hook.attrs.get("name", ""),
            "createdDate": millis(hook.created_at),
            "updatedDate": millis(hook.attrs.get("updated_at", hook.created_at)),
            "events": list(hook.attrs.get("events", [])),
            "configuration": configuration,
            "url": hook.url,
            "active": hook.active,
            "scopeType": "repository",
            "sslVerificationRequired": hook.ssl_verify,
        }

    def status(self, st: CommitStatus, *, legacy: bool) -> Json:
        base: Json = {
            "state": st.state,
            "key": st.context,
            "name": st.attrs.get("name") or st.context,
            "url": st.target_url or "",
            "description": st.description or "",
        }
        if legacy:
            return {**base, "dateAdded": millis(st.created_at)}
        return {
            **base,
            "buildNumber": st.attrs.get("buildNumber"),
            "parent": st.attrs.get("parent"),
            "ref": st.ref,
            "duration": st.attrs.get("duration"),
            "createdDate": millis(st.created_at),
            "updatedDate": millis(st.attrs.get("updated_at", st.created_at)),
        }
