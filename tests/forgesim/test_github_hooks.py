"""Repository hooks over PyGithub, ``ping`` on creation, and the ``push`` / ``create`` /
``delete`` deliveries a real git push sends, checked with ``webhooks.parse`` and
``webhooks.verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from github import GithubException

import webhooks
from tests.forgesim.conftest import Receiver, commit_file
from tests.forgesim.github_world import GitHubWorld, world_at

SECRET = "github-hook-secret"
ZERO = "0" * 40


@pytest.fixture
def world(tmp_path: Path) -> Iterator[GitHubWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _records(world: GitHubWorld, count: int) -> list[dict[str, Any]]:
    found = world.forge.admin.wait_for_deliveries(count)
    assert len(found) == count, found
    return sorted(found, key=lambda d: d["id"])


def _check(record: dict[str, Any]) -> list[Any]:
    body = record["body"].encode()
    webhooks.verify("github", record["headers"], body, SECRET)
    return webhooks.parse("github", record["headers"], body)


def test_hook_crud_and_ping(world: GitHubWorld, receiver: Receiver) -> None:
    repo = world.client().get_repo("acme/app")
    config = {"url": receiver.url, "content_type": "json", "secret": SECRET}
    hook = repo.create_hook("web", config, ["push"], True)
    assert (hook.name, hook.active, hook.events) == ("web", True, ["push"])
    assert hook.config == {**config, "secret": "********", "insecure_ssl": "0"}
    (ping,) = _records(world, 1)
    assert ping["event"] == "ping"
    assert ping["headers"]["X-GitHub-Hook-ID"] == str(hook.id)
    assert ping["headers"]["User-Agent"].startswith("GitHub-Hookshot/")
    (event,) = _check(ping)
    assert isinstance(event, webhooks.PingEvent)
    assert (event.hook_id, event.repository) == (str(hook.id), "acme/app")
    assert receiver.requests[0].headers["X-Hub-Signature"].startswith("sha1=")
    fetched = repo.get_hook(hook.id)
    assert (fetched.last_response.status, fetched.last_response.code) == ("active", 200)
    assert [h.id for h in repo.get_hooks()] == [hook.id]
    hook.edit("web", {**config, "url": receiver.url + "?v=2"}, add_events=["create"])
    edited = repo.get_hook(hook.id)
    assert (edited.events, edited.config["url"]) == (["push", "create"], receiver.url + "?v=2")
    hook.delete()
    assert list(repo.get_hooks()) == []
    with pytest.raises(GithubException) as caught:
        repo.get_hook(hook.id)
    assert caught.value.status == 404


def test_duplicate_and_invalid_hooks_are_422(world: GitHubWorld, receiver: Receiver) -> None:
    repo = world.client().get_repo("acme/app")
    repo.create_hook("web", {"url": receiver.url}, ["push"], True)
    with pytest.raises(GithubException) as duplicate:
        repo.create_hook("web", {"url": receiver.url}, ["push"], True)
    assert duplicate.value.status == 422
    assert duplicate.value.data["errors"][0]["message"] == "Hook already exists on this repository"
    with pytest.raises(GithubException) as no_url:
        repo.create_hook("web", {"content_type": "json"})
    assert no_url.value.status == 422


def test_push_create_and_delete_deliveries(
    world: GitHubWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    repo = world.client().get_repo("acme/app")
    config = {"url": receiver.url, "content_type": "json", "secret": SECRET}
    repo.create_hook("web", config, ["push", "create", "delete"], True)
    work = tmp_path / "work"
    token = world.tokens["alice"]
    git("clone", "-q", world.forge.git_url_with_token("acme/app", token, "alice"), str(work))
    first = commit_file(git, work, "Dockerfile", "FROM scratch\n", "first")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    _records(world, 3)  # ping, then push and create for main
    second = commit_file(git, work, "app.py", "print(1)\n", "second [skip ci]")
    git("push", "-q", "origin", "HEAD:main", "HEAD:feature", cwd=work)
    _records(world, 6)  # main moved; feature created
    git("push", "-q", "origin", ":feature", cwd=work)
    records = _records(world, 8)
    events = [r["event"] for r in records]
    assert events[:3] == ["ping", "push", "create"]
    assert sorted(events[3:6]) == ["create", "push", "push"]
    assert sorted(events[6:]) == ["delete", "push"]
    by_ref = {}
    for record in records[1:]:
        if record["event"] == "push":
            (event,) = _check(record)
            by_ref[(event.ref, event.created, event.deleted)] = event
    created = by_ref[("refs/heads/main", True, False)]
    moved = by_ref[("refs/heads/main", False, False)]
    branched = by_ref[("refs/heads/feature", True, False)]
    deleted = by_ref[("refs/heads/feature", False, True)]
    assert (created.before, created.after) == (None, first)
    assert (moved.before, moved.after, moved.head_commit.message) == (
        first,
        second,
        "second [skip ci]",
    )
    assert [c.sha for c in moved.commits] == [second]
    assert moved.clone_url == world.forge.git_url("acme/app")
    assert (branched.after, [c.sha for c in branched.commits]) == (second, [second])
    assert (deleted.after, deleted.head_commit) == (None, None)
    moved_body = next(
        json.loads(r["body"])
        for r in records
        if r["event"] == "push"
        and json.loads(r["body"])["after"] == second
        and json.loads(r["body"])["ref"] == "refs/heads/main"
    )
    assert moved_body["commits"][0]["added"] == ["app.py"]
    assert isinstance(moved_body["repository"]["pushed_at"], int)
    create = next(json.loads(r["body"]) for r in records[3:6] if r["event"] == "create")
    assert (create["ref"], create["ref_type"], create["master_branch"]) == (
        "feature",
        "branch",
        "main",
    )


def test_tag_push_deletion_and_form_hooks(
    world: GitHubWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    repo = world.client().get_repo("acme/app")
    repo.create_hook("web", {"url": receiver.url, "secret": SECRET}, ["push"], True)
    work = tmp_path / "work"
    token = world.tokens["alice"]
    git("clone", "-q", world.forge.git_url_with_token("acme/app", token), str(work))
    sha = commit_file(git, work, "a.txt", "a", "a")
    git("tag", "-a", "v1.0", "-m", "release", cwd=work)
    git("push", "-q", "origin", "HEAD:main", "v1.0", cwd=work)
    _records(world, 3)
    git("push", "-q", "origin", ":refs/tags/v1.0", cwd=work)
    ping, branch, tag, untag = _records(world, 4)
    assert branch["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert branch["body"].startswith("payload=")
    (event,) = _check(tag)
    assert (event.ref, event.created, event.head_commit.sha) == ("refs/tags/v1.0", True, sha)
    (gone,) = _check(untag)
    assert (gone.ref, gone.deleted, gone.after, gone.head_commit) == (
        "refs/tags/v1.0",
        True,
        None,
        None,
    )
    assert (
        json.loads(parse_qs(ping["body"])["payload"][0])["hook"]["config"]["content_type"] == "form"
    )


def test_inactive_hook_gets_nothing(
    world: GitHubWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    repo = world.client().get_repo("alice/notes")
    repo.create_hook("web", {"url": receiver.url}, ["*"], False)
    work = tmp_path / "work"
    token = world.tokens["alice"]
    git("clone", "-q", world.forge.git_url_with_token("alice/notes", token), str(work))
    commit_file(git, work, "a.txt", "a", "a")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    world.forge.admin.wait_idle()
    assert world.forge.admin.deliveries() == []
