"""Any of the four forges (forgesim) with a user, a namespace and a repository, for API tests.

``make_forge_env(provider, data_dir)`` starts forgesim as ``gitlab``, ``github``,
``bitbucket`` or ``bitbucket-server``: alice (a token that may do all the service needs)
administers the namespace ``acme`` (``ACME`` on Bitbucket Server), which holds the
repository ``app``. Use it inside ``with``; pair it with the served ``settings`` and
``client`` fixtures of ``tests.common.gitlab_env`` so forgesim can deliver webhooks.

Helpers drive it as a user does: ``bind`` and ``link`` through the REST API,
``env.push(work, ...)`` commits and pushes with real git (several refs at once too),
``env.statuses(sha)`` reads the commit statuses through the forge's own REST API
(``env.named_statuses(sha)``: the current one per status name).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

import forgesim
from tests.common.gitlab_env import Client

PROVIDERS = ("gitlab", "github", "bitbucket", "bitbucket-server")
# provider -> (token scopes, namespace path)
SETUPS: dict[str, tuple[list[str], str]] = {
    "gitlab": (["api"], "acme"),
    "github": (["repo", "admin:repo_hook", "read:org"], "acme"),
    "bitbucket": (["account", "repository:write", "webhook"], "acme"),
    "bitbucket-server": (["REPO_ADMIN", "PROJECT_READ"], "ACME"),
}
IDENTITY = {
    "GIT_AUTHOR_NAME": "Alice",
    "GIT_AUTHOR_EMAIL": "alice@example.test",
    "GIT_COMMITTER_NAME": "Alice",
    "GIT_COMMITTER_EMAIL": "alice@example.test",
    "GIT_TERMINAL_PROMPT": "0",
}


@dataclass(frozen=True)
class ForgeEnv:
    provider: str
    forge: forgesim.Forge
    username: str
    token: str
    namespace: str
    repository: str  # full path

    def bind_body(self, **changes: Any) -> dict[str, Any]:
        body = {
            "provider": self.provider,
            "url": self.forge.url,
            "username": self.username,
            "token": self.token,
        }
        body.update(changes)
        return body

    def new_token(self) -> str:
        return self.forge.admin.create_token(self.username, SETUPS[self.provider][0])

    # git ---------------------------------------------------------------------------
    def push(
        self,
        work: Path,
        files: Mapping[str, str] | None = None,
        *,
        branches: Sequence[str] = ("main",),
        tags: Sequence[str] = (),
        message: str = "Change things",
        delete: Sequence[str] = (),
    ) -> str:
        """Commit ``files`` (default: a changed Dockerfile) and push it to every branch
        and tag named, in one ``git push``; ``delete`` removes branches. The sha pushed."""
        if not (work / ".git").exists():
            work.mkdir(parents=True, exist_ok=True)
            git(work, "init", "-q", "-b", branches[0] if branches else "main")
        content = files or {"Dockerfile": f"FROM scratch\nLABEL change={secrets.token_hex(4)}\n"}
        for name, text in content.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "--allow-empty", "-m", message)
        sha = git(work, "rev-parse", "HEAD")
        refs = [f"HEAD:refs/heads/{branch}" for branch in branches]
        for tag in tags:
            git(work, "tag", "-f", tag)
            refs.append(f"refs/tags/{tag}")
        refs += [f":refs/heads/{branch}" for branch in delete]
        remote = self.forge.git_url_with_token(self.repository, self.token, self.username)
        git(work, "push", "-q", "-f", remote, *refs)
        return sha

    # the forge's REST API ------------------------------------------------------------
    def _get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.provider == "gitlab":
            headers = {"PRIVATE-TOKEN": self.token}
        response = requests.get(self.forge.url + path, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def statuses(self, sha: str) -> list[tuple[str, str | None]]:
        """(state, target url) of the commit's statuses as the forge keeps them."""
        path = urllib.parse.quote(self.repository, safe="")
        if self.provider == "gitlab":
            found = self._get(f"/api/v4/projects/{path}/repository/commits/{sha}/statuses")
            return [(s["status"], s["target_url"]) for s in found]
        if self.provider == "github":
            found = self._get(f"/api/v3/repos/{self.repository}/commits/{sha}/statuses")
            return [(s["state"], s["target_url"]) for s in found]
        if self.provider == "bitbucket":
            found = self._get(f"/2.0/repositories/{self.repository}/commit/{sha}/statuses")
            return [(s["state"], s["url"]) for s in found["values"]]
        found = self._get(f"/rest/build-status/1.0/commits/{sha}")
        return [(s["state"], s["url"]) for s in found["values"]]

    def named_statuses(self, sha: str) -> dict[str, tuple[str, str, str | None]]:
        """The commit's status per name (GitLab ``name``, GitHub ``context``, Bitbucket
        ``name``) as the forge shows it now: (state, description, target url)."""
        path = urllib.parse.quote(self.repository, safe="")
        if self.provider == "gitlab":
            found = self._get(f"/api/v4/projects/{path}/repository/commits/{sha}/statuses")
            rows = [(s["name"], s["status"], s["description"], s["target_url"]) for s in found]
        elif self.provider == "github":  # every status ever set, newest first
            found = self._get(f"/api/v3/repos/{self.repository}/commits/{sha}/statuses")
            rows = [(s["context"], s["state"], s["description"], s["target_url"]) for s in found]
        else:
            prefix = "/2.0/repositories/{}/commit/{}/statuses"
            if self.provider == "bitbucket-server":
                prefix = "/rest/build-status/1.0/commits/{1}"
            found = self._get(prefix.format(self.repository, sha))["values"]
            rows = [(s["name"], s["state"], s["description"], s["url"]) for s in found]
        named: dict[str, tuple[str, str, str | None]] = {}
        for name, state, description, url in rows:
            named.setdefault(name, (state, description or "", url))
        return named

    def delete_hook(self, hook_id: str) -> None:
        """Remove a hook behind the service's back, through the forge's REST API."""
        repo = self.repository
        path = {
            "gitlab": f"/api/v4/projects/{urllib.parse.quote(repo, safe='')}/hooks/{hook_id}",
            "github": f"/api/v3/repos/{repo}/hooks/{hook_id}",
            "bitbucket": f"/2.0/repositories/{repo}/hooks/{hook_id}",
            "bitbucket-server": "/rest/api/1.0/projects/{}/repos/{}/webhooks/{}".format(
                *repo.split("/"), hook_id
            ),
        }[self.provider]
        headers = {"Authorization": f"Bearer {self.token}", "PRIVATE-TOKEN": self.token}
        response = requests.delete(self.forge.url + path, headers=headers, timeout=10)
        assert response.status_code in (200, 204), response.text


@contextlib.contextmanager
def make_forge_env(provider: str, data_dir: Path) -> Iterator[ForgeEnv]:
    with forgesim.running(provider, data_dir) as forge:
        scopes, namespace = SETUPS[provider]
        forge.admin.create_user("alice", name="Alice", email="alice@example.test")
        token = forge.admin.create_token("alice", scopes)
        forge.admin.create_namespace(namespace, members={"alice": "admin"})
        created = forge.admin.create_repository(namespace, "app")
        yield ForgeEnv(provider, forge, "alice", token, namespace, created["full_path"])
        with contextlib.suppress(Exception):  # let deliveries in flight finish first
            forge.admin.wait_idle(timeout=5)


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **IDENTITY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"git {args[0]}: {result.stdout}{result.stderr}"
    return result.stdout.strip()


# the service's REST API ------------------------------------------------------------------
async def call(
    client: Client, headers: dict[str, str], method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    response = await client.request(method, path, json=body, headers=headers)
    return response.status, await response.json()


async def bind(client: Client, headers: dict[str, str], env: ForgeEnv) -> dict[str, Any]:
    status, body = await call(client, headers, "POST", "/api/v1/sources", env.bind_body())
    assert status == 201, body
    return dict(body)


async def link(
    client: Client, headers: dict[str, str], env: ForgeEnv, **fields: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "namespace": "team",
        "name": f"app-{secrets.token_hex(3)}",
        "source": {"provider": env.provider, "repository": env.repository},
    }
    spec.update(fields)
    status, body = await call(client, headers, "POST", "/api/v1/repositories", spec)
    assert status == 201, body
    return dict(body)


async def deliveries(
    client: Client, headers: dict[str, str], repository_id: int, count: int
) -> list[dict[str, Any]]:
    """The repository's recorded deliveries, newest first, once there are ``count``."""
    path = f"/api/v1/repositories/{repository_id}/deliveries?per_page=100"
    for _ in range(300):
        status, body = await call(client, headers, "GET", path)
        assert status == 200, body
        if len(body["items"]) >= count:
            return list(body["items"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} deliveries: {body['items']}")
