"""The real git client against Bitbucket Server: ``{url}/scm/{KEY}/{slug}.git`` with
``<username>:<HTTP access token>``; permissions decide clone and push."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.forgesim.bitbucket_server_world import ServerWorld, world_at
from tests.forgesim.conftest import commit_file


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ServerWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _url(world: ServerWorld, user: str, path: str = "PRJ/app") -> str:
    return world.forge.git_url_with_token(path, world.tokens[user], user)


def test_clone_and_push(world: ServerWorld, git: Any, tmp_path: Path) -> None:
    work = tmp_path / "alice"
    git("clone", "-q", _url(world, "alice"), str(work))
    sha = commit_file(git, work, "Dockerfile", "FROM scratch\n", "initial")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    lower = (
        world.forge.url.replace("://", f"://carol:{world.tokens['carol']}@") + "/scm/prj/app.git"
    )
    git("clone", "-q", lower, str(tmp_path / "carol"))
    assert git("rev-parse", "HEAD", cwd=tmp_path / "carol").stdout.strip() == sha
    commit_file(git, tmp_path / "carol", "x.txt", "x", "x")
    refused = git("push", "origin", "HEAD:main", cwd=tmp_path / "carol", check=False)
    assert refused.returncode != 0
    assert "not permitted to push" in refused.stderr
    read_token = world.forge.admin.create_token("bob", ["REPO_READ"])
    url = world.forge.git_url_with_token("PRJ/app", read_token, "bob")
    git("remote", "set-url", "origin", url, cwd=tmp_path / "carol")
    assert git("push", "origin", "HEAD:main", cwd=tmp_path / "carol", check=False).returncode != 0
    git("remote", "set-url", "origin", _url(world, "bob"), cwd=tmp_path / "carol")
    git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "carol")


def test_refusals(world: ServerWorld, git: Any, tmp_path: Path) -> None:
    anonymous = git("clone", world.forge.git_url("PRJ/app"), str(tmp_path / "a"), check=False)
    assert "could not read Username" in anonymous.stderr
    assert git("clone", _url(world, "dave"), str(tmp_path / "d"), check=False).returncode != 0
    stolen = world.forge.git_url_with_token("PRJ/app", world.tokens["alice"], "bob")
    assert git("clone", stolen, str(tmp_path / "s"), check=False).returncode != 0
    resp = requests.get(
        world.forge.git_url("PRJ/app") + "/info/refs?service=git-upload-pack", timeout=5
    )
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Atlassian Bitbucket"'
    git("clone", "-q", world.forge.git_url("PRJ/site"), str(tmp_path / "public"))
