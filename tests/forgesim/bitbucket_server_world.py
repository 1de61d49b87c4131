"""Set-up shared by the Bitbucket Server tests (this module holds no tests).

``seed`` builds: users alice (repository admin), bob (write), carol (read) and dave
(outsider); project PRJ with private ``PRJ/app`` and public ``PRJ/site``; an HTTP
access token with ``REPO_ADMIN`` for everyone (``world.tokens[name]``; a token acts with
the lower of its permission and its owner's). ``client(name)`` is atlassian-python-api's
``Bitbucket`` with HTTP Basic username and token; ``client(name, bearer=True)`` passes
``token=`` (a Bearer header).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlassian import Bitbucket

import forgesim
from forgesim import Forge


@dataclass
class ServerWorld:
    forge: Forge
    tokens: dict[str, str]

    def client(self, name: str = "alice", *, bearer: bool = False, **kwargs: Any) -> Bitbucket:
        return client(self.forge, name, self.tokens[name], bearer=bearer, **kwargs)


def client(
    forge: Forge, username: str, token: str, *, bearer: bool = False, **kwargs: Any
) -> Bitbucket:
    kwargs.setdefault("timeout", 5)
    if bearer:
        return Bitbucket(url=forge.url, token=token, **kwargs)
    return Bitbucket(url=forge.url, username=username, password=token, **kwargs)


def seed(forge: Forge) -> ServerWorld:
    admin = forge.admin
    tokens = {}
    for name in ("alice", "bob", "carol", "dave"):
        admin.create_user(name)
        tokens[name] = admin.create_token(name, ["REPO_ADMIN"])
    members = {"alice": "repo_admin", "bob": "repo_write", "carol": "repo_read"}
    admin.create_namespace("PRJ", members=members)
    admin.create_repository("PRJ", "app", private=True)
    admin.create_repository("PRJ", "site", private=False)
    return ServerWorld(forge, tokens)


@contextmanager
def world_at(path: Path, **options: Any) -> Iterator[ServerWorld]:
    with forgesim.running("bitbucket-server", path, **options) as forge:
        yield seed(forge)
