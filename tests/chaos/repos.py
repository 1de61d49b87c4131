"""The chaos suite's tenants: forgesim's GitLab projects, the account, its image repositories.

``setup(cluster, count)`` makes an account (``admin create-account``), a GitLab user and
``count`` projects, binds GitLab and links each project to an image repository whose
rule builds ``main`` as ``latest`` (all through the load balancer), and returns the
``Repos`` that pushes to them: each commit's Dockerfile echoes a marker unique to the
commit (never a cached step) and sleeps, so builds overlap with each other and the faults.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from forgesim.client import AdminClient
from tests.common.cluster import LocalCluster
from tests.common.e2e_stack import git

STEP_SECONDS = 1


@dataclass
class Repo:
    index: int
    full_path: str
    image: str  # namespace/name in the registry
    repository_id: int
    work: Path
    pushed: list[str] = field(default_factory=list)  # commit shas, in push order


@dataclass
class Repos:
    cluster: LocalCluster
    namespace: str
    token: str  # the account's API token
    forge_token: str
    items: list[Repo]
    registry_password: str  # the account's (login: namespace), to read the cluster's registry

    def push(self, repo: Repo, step: str = f"sleep {STEP_SECONDS}") -> str:
        """A new commit on ``main`` whose build runs ``step``, pushed; its sha."""
        marker = f"{repo.index}-{len(repo.pushed)}-{secrets.token_hex(4)}"
        (repo.work / "Dockerfile").write_text(
            f"FROM buildsvc/busybox:latest\nRUN echo {marker} && {step}\n"
        )
        git(repo.work, "add", "-A")
        git(repo.work, "commit", "-q", "-m", f"chaos {marker}")
        git(repo.work, "push", "-q", "origin", "HEAD:refs/heads/main", env=self.git_auth())
        sha = git(repo.work, "rev-parse", "HEAD")
        repo.pushed.append(sha)
        return sha

    def git_auth(self) -> dict[str, str]:
        basic = base64.b64encode(f"alice:{self.forge_token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.cluster.forge_url}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            "GIT_TERMINAL_PROMPT": "0",
        }


def setup(cluster: LocalCluster, count: int) -> Repos:
    namespace = f"chaos{secrets.token_hex(3)}"
    token = cluster.create_account(namespace)
    registry_password = secrets.token_urlsafe(18)
    answer = requests.put(
        cluster.url + "/api/v1/registry/password",
        json={"password": registry_password},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if answer.status_code != 204:
        raise RuntimeError(f"PUT /api/v1/registry/password: {answer.status_code} {answer.text}")
    forge = AdminClient(cluster.forge_url)
    try:
        forge.create_user("alice")
        forge_token = forge.create_token("alice", ["api"])
        forge.create_namespace("acme", members={"alice": "maintainer"})
        projects = [forge.create_repository("acme", f"app{n}") for n in range(count)]
    finally:
        forge.close()
    source = {
        "provider": "gitlab",
        "url": cluster.forge_url,
        "username": "alice",
        "token": forge_token,
    }
    _call(cluster, token, "/api/v1/sources", source)
    items = []
    for index, project in enumerate(projects):
        body = {
            "namespace": namespace,
            "name": f"app{index}",
            "source": {"provider": "gitlab", "repository": project["full_path"]},
            "rules": [{"type": "branch", "pattern": "main", "tag": "latest"}],
        }
        linked = _call(cluster, token, "/api/v1/repositories", body)
        work = cluster.directory / "work" / f"app{index}"
        work.mkdir(parents=True)
        git(work, "init", "-q", "-b", "main")
        git(work, "remote", "add", "origin", project["clone_url"])
        image = f"{namespace}/app{index}"
        items.append(Repo(index, project["full_path"], image, int(linked["id"]), work))
    return Repos(cluster, namespace, token, forge_token, items, registry_password)


def _call(cluster: LocalCluster, token: str, path: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.post(cluster.url + path, json=body, headers=headers, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
    return response.json()
