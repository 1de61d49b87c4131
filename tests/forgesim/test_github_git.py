"""The real git client against GitHub-style git over HTTPS: ``x-access-token`` (or the
login) with a token, anonymous public clones, hidden private repositories, refused
pushes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.forgesim.conftest import commit_file
from tests.forgesim.github_world import GitHubWorld, fine_grained, world_at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[GitHubWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _seed(world: GitHubWorld, git: Any, tmp_path: Path, path: str = "acme/app") -> str:
    work = tmp_path / "seed"
    url = world.forge.git_url_with_token(path, world.tokens["alice"], "x-access-token")
    git("clone", "-q", url, str(work))
    sha = commit_file(git, work, "Dockerfile", "FROM scratch\n", "initial")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return sha


def test_clone_with_token(world: GitHubWorld, git: Any, tmp_path: Path) -> None:
    sha = _seed(world, git, tmp_path)
    for user, name in (("bob", "bob"), ("carol", "x-access-token")):
        url = world.forge.git_url_with_token("acme/app", world.tokens[user], name)
        git("clone", "-q", url, str(tmp_path / user))
        assert git("rev-parse", "HEAD", cwd=tmp_path / user).stdout.strip() == sha
    reader = fine_grained(world.forge, "carol", contents="read")
    git("clone", "-q", world.forge.git_url_with_token("acme/app", reader), str(tmp_path / "fg"))


def test_private_clone_refused(world: GitHubWorld, git: Any, tmp_path: Path) -> None:
    _seed(world, git, tmp_path)
    anonymous = git("clone", world.forge.git_url("acme/app"), str(tmp_path / "a"), check=False)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr
    outsider = world.forge.git_url_with_token("acme/app", world.tokens["dave"], "dave")
    refused = git("clone", outsider, str(tmp_path / "dave"), check=False)
    assert refused.returncode != 0
    assert "Repository not found." in refused.stderr
    wrong_name = world.forge.git_url_with_token("acme/app", world.tokens["bob"], "mallory")
    assert git("clone", wrong_name, str(tmp_path / "m"), check=False).returncode != 0
    no_scope = world.forge.admin.create_token("alice", ["read:org"])
    url = world.forge.git_url_with_token("acme/app", no_scope)
    assert git("clone", url, str(tmp_path / "ns"), check=False).returncode != 0


def test_info_refs_asks_for_basic_auth(world: GitHubWorld) -> None:
    url = world.forge.git_url("acme/app") + "/info/refs?service=git-upload-pack"
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'


def test_public_clone_is_anonymous(world: GitHubWorld, git: Any, tmp_path: Path) -> None:
    sha = _seed(world, git, tmp_path, "acme/site")
    git("clone", "-q", world.forge.git_url("acme/site"), str(tmp_path / "anon"))
    assert git("rev-parse", "HEAD", cwd=tmp_path / "anon").stdout.strip() == sha


def test_push_needs_write_access(world: GitHubWorld, git: Any, tmp_path: Path) -> None:
    _seed(world, git, tmp_path)
    reader = tmp_path / "carol"
    git(
        "clone",
        "-q",
        world.forge.git_url_with_token("acme/app", world.tokens["carol"]),
        str(reader),
    )
    commit_file(git, reader, "x.txt", "x", "x")
    refused = git("push", "origin", "HEAD:main", cwd=reader, check=False)
    assert refused.returncode != 0
    assert "Permission to acme/app.git denied to carol." in refused.stderr
    read_only = fine_grained(world.forge, "alice", contents="read")
    git(
        "remote",
        "set-url",
        "origin",
        world.forge.git_url_with_token("acme/app", read_only),
        cwd=reader,
    )
    blocked = git("push", "origin", "HEAD:main", cwd=reader, check=False)
    assert "Write access to repository not granted." in blocked.stderr
    writer = fine_grained(world.forge, "alice", contents="write")
    git(
        "remote",
        "set-url",
        "origin",
        world.forge.git_url_with_token("acme/app", writer),
        cwd=reader,
    )
    git("push", "-q", "origin", "HEAD:main", cwd=reader)
