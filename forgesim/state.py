"""All records of one forge, in memory, saved as ``DATA/state.json``.

Only the server's event loop touches a ``State`` (admin calls arrive over HTTP), so it
needs no locks. Saving is debounced: ``changed()`` marks the state dirty and the server
flushes it shortly after and on shutdown, which keeps creating 1,000 repositories fast.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

from forgesim import gitrepo
from forgesim.models import (
    OWNER,
    CommitStatus,
    Delivery,
    Hook,
    Namespace,
    Repository,
    Token,
    User,
    now_iso,
)

T = TypeVar("T")
_KINDS = ("user", "token", "namespace", "repo", "hook", "status", "delivery")


class StateError(Exception):
    """An admin request that cannot be applied; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _load(cls: type[T], raw: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in raw.items() if k in names})


class State:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.repos_root = data_dir / "repos"
        self.file = data_dir / "state.json"
        self.counters = dict.fromkeys(_KINDS, 0)
        self.users: dict[int, User] = {}
        self.tokens: dict[int, Token] = {}
        self.namespaces: dict[int, Namespace] = {}
        self.repos: dict[int, Repository] = {}
        self.hooks: dict[int, Hook] = {}
        self.statuses: dict[int, CommitStatus] = {}
        self.deliveries: list[Delivery] = []
        self.dirty = False
        # Lookup indexes (lower-cased paths, as GitLab paths are case-insensitive).
        self._by_secret: dict[str, Token] = {}
        self._ns_by_path: dict[str, Namespace] = {}
        self._repo_by_path: dict[str, Repository] = {}

    # persistence -----------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path) -> State:
        state = cls(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        state.repos_root.mkdir(exist_ok=True)
        if state.file.exists():
            raw = json.loads(state.file.read_text())
            state.counters.update(raw["counters"])
            state.users = {u["id"]: _load(User, u) for u in raw["users"]}
            state.tokens = {t["id"]: _load(Token, t) for t in raw["tokens"]}
            state.namespaces = {n["id"]: _load(Namespace, n) for n in raw["namespaces"]}
            state.repos = {r["id"]: _load(Repository, r) for r in raw["repos"]}
            state.hooks = {h["id"]: _load(Hook, h) for h in raw["hooks"]}
            state.statuses = {s["id"]: _load(CommitStatus, s) for s in raw["statuses"]}
            state.deliveries = [_load(Delivery, d) for d in raw["deliveries"]]
            state._by_secret = {t.secret: t for t in state.tokens.values()}
            state._ns_by_path = {n.path.lower(): n for n in state.namespaces.values()}
            state._repo_by_path = {r.full_path.lower(): r for r in state.repos.values()}
        return state

    def changed(self) -> None:
        self.dirty = True

    def save(self) -> None:
        raw = {
            "counters": self.counters,
            "users": [asdict(u) for u in self.users.values()],
            "tokens": [asdict(t) for t in self.tokens.values()],
            "namespaces": [asdict(n) for n in self.namespaces.values()],
            "repos": [asdict(r) for r in self.repos.values()],
            "hooks": [asdict(h) for h in self.hooks.values()],
            "statuses": [asdict(s) for s in self.statuses.values()],
            "deliveries": [asdict(d) for d in self.deliveries],
        }
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(raw))
        os.replace(tmp, self.file)
        self.dirty = False

    def next_id(self, kind: str) -> int:
        self.counters[kind] += 1
        self.changed()
        return self.counters[kind]

    # users and tokens --------------------------------------------------------------
    def create_user(self, username: str, name: str = "", email: str = "") -> User:
        if not username or "/" in username:
            raise StateError("username must be a non-empty path segment")
        if self.user_by_name(username) or self.namespace_by_path(username):
            raise StateError(f"{username!r} is taken", 409)
        user = User(
            id=self.next_id("user"),
            username=username,
            name=name or username.replace("_", " ").title(),
            email=email or f"{username}@example.com",
            created_at=now_iso(),
        )
        ns = self._add_namespace(username, user.name, "user", None, owner_id=user.id)
        ns.members[username] = OWNER
        user.namespace_id = ns.id
        self.users[user.id] = user
        return user

    def user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username == username), None)

    def require_user(self, username: str) -> User:
        user = self.user_by_name(username)
        if user is None:
            raise StateError(f"no user {username!r}", 404)
        return user

    def create_token(
        self, user: User, scopes: list[str], expires_at: str | None, prefix: str, name: str
    ) -> Token:
        token = Token(
            id=self.next_id("token"),
            user_id=user.id,
            secret=prefix + secrets.token_urlsafe(15).replace("-", "x").replace("_", "y"),
            name=name,
            scopes=list(scopes),
            created_at=now_iso(),
            expires_at=expires_at,
        )
        self.tokens[token.id] = token
        self._by_secret[token.secret] = token
        return token

    def token_by_secret(self, secret: str) -> Token | None:
        return self._by_secret.get(secret)

    # namespaces and repositories ---------------------------------------------------------
    def _add_namespace(
        self, path: str, name: str, kind: str, parent: int | None, owner_id: int | None = None
    ) -> Namespace:
        ns = Namespace(
            id=self.next_id("namespace"),
            path=path,
            name=name,
            kind=kind,
            created_at=now_iso(),
            parent_id=parent,
            owner_id=owner_id,
        )
        self.namespaces[ns.id] = ns
        self._ns_by_path[path.lower()] = ns
        return ns

    def create_namespace(self, path: str, members: dict[str, int], visibility: str) -> Namespace:
        path = path.strip("/")
        if not path or self.namespace_by_path(path):
            raise StateError(f"namespace {path!r} is empty or taken", 409)
        parent_path, _, leaf = path.rpartition("/")
        parent = self.namespace_by_path(parent_path) if parent_path else None
        if parent_path and (parent is None or parent.kind != "group"):
            raise StateError(f"parent group {parent_path!r} does not exist", 404)
        for username in members:
            self.require_user(username)
        ns = self._add_namespace(path, leaf, "group", parent.id if parent else None)
        ns.members.update(members)
        ns.visibility = visibility
        return ns

    def namespace_by_path(self, path: str) -> Namespace | None:
        return self._ns_by_path.get(path.strip("/").lower())

    def create_repository(
        self,
        ns: Namespace,
        name: str,
        private: bool,
        default_branch: str,
        members: dict[str, int],
        creator: User | None,
    ) -> Repository:
        slug = name.strip().replace(" ", "-")
        if not slug or "/" in slug or self.repo_by_path(f"{ns.path}/{slug}"):
            raise StateError(f"repository {ns.path}/{slug} is invalid or exists", 409)
        for username in members:
            self.require_user(username)
        stamp = now_iso()
        repo = Repository(
            id=self.next_id("repo"),
            namespace_id=ns.id,
            namespace_path=ns.path,
            name=name,
            path=slug,
            default_branch=default_branch,
            private=private,
            created_at=stamp,
            last_activity_at=stamp,
            creator_id=creator.id if creator else None,
            members=dict(members),
        )
        self.repos[repo.id] = repo
        self._repo_by_path[repo.full_path.lower()] = repo
        return repo

    def repo_by_path(self, full_path: str) -> Repository | None:
        return self._repo_by_path.get(full_path.strip("/").lower())

    def repo_dir(self, repo: Repository) -> Path:
        """The bare repository, laid out on first use: creating 1,000 projects stays fast."""
        path = self.repos_root / f"{repo.full_path}.git"
        if not (path / "HEAD").exists():
            gitrepo.init_bare(path, repo.default_branch)
        return path

    def new_hook(self, repo: Repository, url: str, secret: str, ssl_verify: bool) -> Hook:
        hook = Hook(
            id=self.next_id("hook"),
            repo_id=repo.id,
            url=url,
            secret=secret,
            created_at=now_iso(),
            uuid=str(uuid.uuid4()),
            ssl_verify=ssl_verify,
        )
        self.hooks[hook.id] = hook
        return hook

    def repo_hooks(self, repo: Repository) -> list[Hook]:
        return [h for h in self.hooks.values() if h.repo_id == repo.id]
