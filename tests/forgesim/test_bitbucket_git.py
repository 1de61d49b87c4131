"""The real git client against Bitbucket Cloud-style git over HTTPS: ``x-token-auth`` with
an access token, or the username with an app password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.forgesim.bitbucket_world import BitbucketWorld, world_at
from tests.forgesim.conftest import commit_file


@pytest.fixture
def world(tmp_path: Path) -> Iterator[BitbucketWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _seed(world: BitbucketWorld, git: Any, tmp_path: Path, path: str = "acme/app") -> str:
    work = tmp_path / "seed"
    url = world.forge.git_url_with_token(path, world.tokens["alice"], "x-token-auth")
    git("clone", "-q", url, str(work))
    sha = commit_file(git, work, "Dockerfile", "FROM scratch\n", "initial")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return sha


def test_clone_with_access_token_or_app_password(
    world: BitbucketWorld, git: Any, tmp_path: Path
) -> None:
    sha = _seed(world, git, tmp_path)
    for user, name in (("carol", "carol"), ("bob", "x-token-auth")):
        url = world.forge.git_url_with_token("acme/app", world.tokens[user], name)
        git("clone", "-q", url, str(tmp_path / user))
        assert git("rev-parse", "HEAD", cwd=tmp_path / user).stdout.strip() == sha


def test_private_clone_refused(world: BitbucketWorld, git: Any, tmp_path: Path) -> None:
    _seed(world, git, tmp_path)
    anonymous = git("clone", world.forge.git_url("acme/app"), str(tmp_path / "a"), check=False)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr
    outsider = world.forge.git_url_with_token("acme/app", world.tokens["dave"], "dave")
    assert git("clone", outsider, str(tmp_path / "d"), check=False).returncode != 0
    no_repository = world.forge.admin.create_token("alice", ["account"])
    url = world.forge.git_url_with_token("acme/app", no_repository, "x-token-auth")
    assert git("clone", url, str(tmp_path / "n"), check=False).returncode != 0
    resp = requests.get(
        world.forge.git_url("acme/app") + "/info/refs?service=git-upload-pack", timeout=5
    )
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Bitbucket.org HTTP"'


def test_public_clone_and_refused_push(world: BitbucketWorld, git: Any, tmp_path: Path) -> None:
    _seed(world, git, tmp_path, "acme/site")
    git("clone", "-q", world.forge.git_url("acme/site"), str(tmp_path / "anon"))
    reader = tmp_path / "carol"
    url = world.forge.git_url_with_token("acme/site", world.tokens["carol"], "carol")
    git("clone", "-q", url, str(reader))
    commit_file(git, reader, "x.txt", "x", "x")
    refused = git("push", "origin", "HEAD:main", cwd=reader, check=False)
    assert refused.returncode != 0
    assert "write access" in refused.stderr
    read_scope = world.forge.admin.create_token("bob", ["repository"])
    url = world.forge.git_url_with_token("acme/site", read_scope, "bob")
    git("remote", "set-url", "origin", url, cwd=reader)
    assert git("push", "origin", "HEAD:main", cwd=reader, check=False).returncode != 0
    git(
        "remote",
        "set-url",
        "origin",
        world.forge.git_url_with_token("acme/site", world.tokens["bob"], "bob"),
        cwd=reader,
    )
    git("push", "-q", "origin", "HEAD:main", cwd=reader)
