"""Set-up shared by the GitHub tests (this module holds no tests).

``seed`` builds: users alice (org admin), bob (write), carol (read) and dave (outsider);
organization acme with private ``acme/app`` and public ``acme/site``; alice's own
public ``alice/notes``; a classic token with ``repo``, ``admin:repo_hook`` and
``read:org`` for everyone (``world.tokens[name]``). ``client`` is PyGithub configured
for tests: no retries and no pauses between requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from github import Auth, Github

import forgesim
from forgesim import Forge

SCOPES = ["repo", "admin:repo_hook", "read:org"]


@dataclass
class GitHubWorld:
    forge: Forge
    tokens: dict[str, str]

    def client(self, name: str = "alice", **kwargs: Any) -> Github:
        return client(self.forge, self.tokens[name], **kwargs)


def client(forge: Forge, token: str, **kwargs: Any) -> Github:
    options: dict[str, Any] = {
        "retry": None,
        "seconds_between_requests": None,
        "seconds_between_writes": None,
        "timeout": 5,
    }
    options.update(kwargs)
    return Github(base_url=forge.api_url, auth=Auth.Token(token), **options)


def fine_grained(forge: Forge, username: str, **permissions: str) -> str:
    return forge.admin.create_fine_grained_token(username, permissions)


def seed(forge: Forge) -> GitHubWorld:
    admin = forge.admin
    tokens = {}
    for name in ("alice", "bob", "carol", "dave"):
        admin.create_user(name)
        tokens[name] = admin.create_token(name, SCOPES)
    admin.create_namespace("acme", members={"alice": "admin", "bob": "write", "carol": "read"})
    admin.create_repository("acme", "app", private=True)
    admin.create_repository("acme", "site", private=False)
    admin.create_repository("alice", "notes", private=False)
    return GitHubWorld(forge, tokens)


@contextmanager
def world_at(path: Path, **options: Any) -> Iterator[GitHubWorld]:
    with forgesim.running("github", path, **options) as forge:
        yield seed(forge)
