"""The real git client over smart HTTP: token auth as GitLab does it, and the deliveries a
push produces parse with ``webhooks.parse`` and pass ``webhooks.verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import requests

import webhooks
from forgesim import Forge
from tests.forgesim.conftest import Receiver, World, commit_file

SECRET = "hook-secret-for-tests"


def _seeded_clone(forge: Forge, world: World, git: Any, tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "seed"
    git("clone", "-q", forge.git_url_with_token("acme/app", world.tokens["alice"]), str(work))
    sha = commit_file(git, work, "Dockerfile", "FROM scratch\n", "initial")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return work, sha


def test_clone_with_token(forge: Forge, world: World, git: Any, tmp_path: Path) -> None:
    _, sha = _seeded_clone(forge, world, git, tmp_path)
    for user in ("carol", "bob"):
        url = forge.git_url_with_token("acme/app", world.tokens[user], username=user)
        git("clone", "-q", url, str(tmp_path / user))
        assert git("rev-parse", "HEAD", cwd=tmp_path / user).stdout.strip() == sha
    read_only = forge.admin.create_token("carol", ["read_repository"])
    git("clone", "-q", forge.git_url_with_token("acme/app", read_only), str(tmp_path / "ro"))


def test_private_repository_refuses_anonymous_and_outsiders(
    forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    anonymous = git("clone", forge.git_url("acme/app"), str(tmp_path / "anon"), check=False)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr  # git was asked for credentials
    outsider = forge.git_url_with_token("acme/app", world.tokens["dave"])
    refused = git("clone", outsider, str(tmp_path / "dave"), check=False)
    assert refused.returncode != 0
    assert "not found" in refused.stderr.lower() or "404" in refused.stderr
    bad = forge.git_url_with_token("acme/app", "wrong-token")
    assert git("clone", bad, str(tmp_path / "bad"), check=False).returncode != 0


def test_info_refs_asks_for_basic_auth(forge: Forge, world: World) -> None:
    resp = requests.get(forge.git_url("acme/app") + "/info/refs?service=git-upload-pack", timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="GitLab"'


def test_public_repository_clones_anonymously(
    forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    forge.admin.create_repository("acme", "open", private=False)
    git("clone", "-q", forge.git_url("acme/open"), str(tmp_path / "open"))
    (tmp_path / "open" / "f").write_text("x")
    git("add", "f", cwd=tmp_path / "open")
    git("commit", "-qm", "x", cwd=tmp_path / "open")
    pushed = git("push", "origin", "HEAD:main", cwd=tmp_path / "open", check=False)
    assert pushed.returncode != 0  # anonymous push asks for credentials


def test_push_needs_developer_and_write_scope(
    forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    work, _ = _seeded_clone(forge, world, git, tmp_path)
    commit_file(git, work, "more.txt", "more", "more")
    as_carol = forge.git_url_with_token("acme/app", world.tokens["carol"])
    denied = git("push", as_carol, "HEAD:main", cwd=work, check=False)
    assert denied.returncode != 0
    assert "not allowed to push" in denied.stderr or "403" in denied.stderr
    read_only = forge.admin.create_token("bob", ["read_repository"])
    as_bob_ro = forge.git_url_with_token("acme/app", read_only)
    assert git("push", as_bob_ro, "HEAD:main", cwd=work, check=False).returncode != 0
    writer = forge.admin.create_token("bob", ["write_repository"])
    git("push", "-q", forge.git_url_with_token("acme/app", writer), "HEAD:main", cwd=work)


def test_expired_and_revoked_tokens_cannot_clone(
    forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    expired = forge.admin.create_token("alice", ["api"], expires_at="2001-01-01")
    url = forge.git_url_with_token("acme/app", expired)
    assert git("clone", url, str(tmp_path / "a"), check=False).returncode != 0
    forge.admin.revoke_token(world.tokens["alice"])
    url = forge.git_url_with_token("acme/app", world.tokens["alice"])
    assert git("clone", url, str(tmp_path / "b"), check=False).returncode != 0


def test_deliveries_parse_and_verify(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path, receiver: Receiver
) -> None:
    project = gl.projects.get("acme/app")
    project.hooks.create(
        {"url": receiver.url, "token": SECRET, "push_events": True, "tag_push_events": True}
    )
    work, first = _seeded_clone(forge, world, git, tmp_path)
    second = commit_file(git, work, "app.py", "print(2)\n", "second")
    git("push", "-q", "origin", "HEAD:main", "HEAD:feature", cwd=work)
    git("tag", "-a", "v1.0", "-m", "v1.0", cwd=work)
    git("push", "-q", "origin", "v1.0", ":feature", cwd=work)
    records = sorted(forge.admin.wait_for_deliveries(5), key=lambda r: r["id"])
    assert len(records) == 5
    events = []
    for record in records:
        body = record["body"].encode()
        webhooks.verify("gitlab", record["headers"], body, SECRET)
        (event,) = webhooks.parse("gitlab", record["headers"], body)
        assert isinstance(event, webhooks.PushEvent)
        events.append(event)
    created = events[0]
    assert (created.ref, created.created, created.after) == ("refs/heads/main", True, first)
    assert created.repository == "acme/app"
    assert created.clone_url == forge.git_url("acme/app")
    by_ref = {(e.ref, e.deleted): e for e in events[1:]}
    assert by_ref[("refs/heads/main", False)].commits[-1].sha == second
    assert by_ref[("refs/heads/main", False)].changed_paths == {"app.py"}
    assert by_ref[("refs/heads/feature", False)].created
    assert by_ref[("refs/heads/feature", True)].deleted
    tag = by_ref[("refs/tags/v1.0", False)]
    assert (tag.ref_type, tag.head_commit and tag.head_commit.sha) == ("tag", second)
    assert len({e.delivery_id for e in events}) == 5


def test_a_partial_clone_fetches_its_missing_blobs_later(
    forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    # A checkout asks for 200 blobs at once: a request git sends gzipped.
    work, _ = _seeded_clone(forge, world, git, tmp_path)
    for n in range(200):
        (work / "files" / f"f{n:03d}.txt").parent.mkdir(exist_ok=True)
        (work / "files" / f"f{n:03d}.txt").write_text(f"file {n}\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "200 files", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    url = forge.git_url_with_token("acme/app", world.tokens["alice"])
    partial = tmp_path / "partial"
    git("clone", "-q", "--filter=blob:none", "--no-checkout", url, str(partial))
    assert (
        git("rev-list", "--missing=print", "--objects", "HEAD", cwd=partial).stdout.count("?") > 200
    )

    git("checkout", "-q", "main", cwd=partial)

    assert (partial / "files" / "f199.txt").read_text() == "file 199\n"
    assert git("status", "--porcelain", cwd=partial).stdout == ""
