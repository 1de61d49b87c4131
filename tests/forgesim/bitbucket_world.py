"""Set-up shared by the Bitbucket Cloud tests (this module holds no tests).

``seed`` builds: users alice (workspace admin), bob (write), carol (read) and dave
(outsider); workspace acme with private ``acme/app`` and public ``acme/site``; a token
with ``account``, ``repository:write`` and ``webhook`` for everyone
(``world.tokens[name]``). ``cloud(name)`` is atlassian-python-api's ``Cloud`` with
HTTP Basic username and app password; ``cloud(name, bearer=True)`` sends the token as
an access token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlassian.bitbucket import Cloud

import forgesim
from forgesim import Forge

SCOPES = ["account", "repository:write", "webhook"]


@dataclass
class BitbucketWorld:
    forge: Forge
    tokens: dict[str, str]

    def cloud(self, name: str = "alice", *, bearer: bool = False, **kwargs: Any) -> Cloud:
        return cloud(self.forge, name, self.tokens[name], bearer=bearer, **kwargs)


def cloud(forge: Forge, username: str, token: str, *, bearer: bool = False, **kwargs: Any) -> Cloud:
    """``Cloud`` appends ``/2.0`` itself: it takes the forge's root URL."""
    kwargs.setdefault("timeout", 5)
    if bearer:
        return Cloud(url=forge.url, token=token, **kwargs)
    return Cloud(url=forge.url, username=username, password=token, **kwargs)


def seed(forge: Forge) -> BitbucketWorld:
    admin = forge.admin
    tokens = {}
    for name in ("alice", "bob", "carol", "dave"):
        admin.create_user(name)
        tokens[name] = admin.create_token(name, SCOPES)
    admin.create_namespace("acme", members={"alice": "admin", "bob": "write", "carol": "read"})
    admin.create_repository("acme", "app", private=True)
    admin.create_repository("acme", "site", private=False)
    return BitbucketWorld(forge, tokens)


@contextmanager
def world_at(path: Path, **options: Any) -> Iterator[BitbucketWorld]:
    with forgesim.running("bitbucket", path, **options) as forge:
        yield seed(forge)
