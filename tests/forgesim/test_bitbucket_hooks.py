"""Repository webhooks over atlassian-python-api and the ``repo:push`` deliveries a real
git push sends (one per push, one change per ref), checked with ``webhooks.parse`` and
``webhooks.verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from requests import HTTPError

import webhooks
from tests.forgesim.bitbucket_world import BitbucketWorld, world_at
from tests.forgesim.conftest import Receiver, commit_file

SECRET = "bitbucket-hook-secret"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[BitbucketWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _records(world: BitbucketWorld, count: int) -> list[dict[str, Any]]:
    found = world.forge.admin.wait_for_deliveries(count)
    assert len(found) == count, found
    return sorted(found, key=lambda d: d["id"])


def _clone(world: BitbucketWorld, git: Any, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    url = world.forge.git_url_with_token("acme/app", world.tokens["alice"], "x-token-auth")
    git("clone", "-q", url, str(work))
    return work


def test_hook_crud(world: BitbucketWorld, receiver: Receiver) -> None:
    repo = world.cloud().repositories.get("acme", "app")
    hook = repo.hooks.create(receiver.url, "buildsvc", ["repo:push"], active=True)
    assert (hook.webhook_url(), hook.description(), hook.events()) == (
        receiver.url,
        "buildsvc",
        ["repo:push"],
    )
    assert hook.uuid().startswith("{")
    assert hook.get_data("secret_set") is False
    assert [h.uuid() for h in repo.hooks.each()] == [hook.uuid()]
    assert repo.hooks.get(hook.uuid()).active() is True
    updated = hook.update(active=False, description="paused")
    assert (updated.active(), updated.description()) == (False, "paused")
    hook.delete()
    assert list(repo.hooks.each()) == []
    with pytest.raises(HTTPError) as gone:
        repo.hooks.get(hook.uuid())
    assert gone.value.response.status_code == 404


def test_hook_secret_and_validation(world: BitbucketWorld, receiver: Receiver) -> None:
    repo = world.cloud().repositories.get("acme", "app")
    body = {"url": receiver.url, "description": "s", "events": ["repo:push"], "secret": SECRET}
    created = repo.post("hooks", data=body)
    assert created["secret_set"] is True
    assert "secret" not in created
    with pytest.raises(HTTPError) as invalid:
        repo.post("hooks", data={"url": receiver.url, "events": ["repo:nothing"]})
    assert invalid.value.response.status_code == 400


def test_one_delivery_per_push(
    world: BitbucketWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    repo = world.cloud().repositories.get("acme", "app")
    body = {"url": receiver.url, "description": "s", "events": ["repo:push"], "secret": SECRET}
    hook = repo.post("hooks", data=body)
    work = _clone(world, git, tmp_path)
    first = commit_file(git, work, "Dockerfile", "FROM scratch\n", "first")
    git("push", "-q", "origin", "HEAD:main", "HEAD:feature", cwd=work)
    _records(world, 1)
    commits = [commit_file(git, work, f"f{i}.txt", str(i), f"change {i}") for i in range(6)]
    git("tag", "-a", "v1", "-m", "release", cwd=work)
    git("push", "-q", "origin", "HEAD:main", ":feature", "v1", cwd=work)
    records = _records(world, 2)
    headers = records[1]["headers"]
    assert headers["X-Event-Key"] == "repo:push"
    assert headers["X-Hook-UUID"] == hook["uuid"].strip("{}")
    assert headers["User-Agent"] == "Bitbucket-Webhooks/2.0"
    assert headers["X-Hub-Signature"].startswith("sha256=")
    events = []
    for record in records:
        raw = record["body"].encode()
        webhooks.verify("bitbucket", record["headers"], raw, SECRET)
        events.append(webhooks.parse("bitbucket", record["headers"], raw))
    created = {(e.ref, e.created, e.after) for e in events[0]}
    assert created == {("refs/heads/main", True, first), ("refs/heads/feature", True, first)}
    deleted, moved, tagged = events[1]  # changes in ref name order
    assert (moved.ref, moved.before, moved.after) == ("refs/heads/main", first, commits[-1])
    assert [c.sha for c in moved.commits] == commits[-5:]  # at most 5, oldest first here
    assert (deleted.ref, deleted.deleted, deleted.after) == ("refs/heads/feature", True, None)
    assert (tagged.ref, tagged.created) == ("refs/tags/v1", True)
    change = json.loads(records[1]["body"])["push"]["changes"][1]
    assert (change["truncated"], change["old"]["target"]["hash"]) == (True, first)
    git("push", "-q", "origin", ":refs/tags/v1", cwd=work)
    untag = _records(world, 3)[2]
    webhooks.verify("bitbucket", untag["headers"], untag["body"].encode(), SECRET)
    (gone,) = webhooks.parse("bitbucket", untag["headers"], untag["body"].encode())
    assert (gone.ref, gone.deleted, gone.after, gone.before) == (
        "refs/tags/v1",
        True,
        None,
        tagged.after,
    )


def test_unsigned_and_inactive_hooks(
    world: BitbucketWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    repo = world.cloud().repositories.get("acme", "app")
    repo.hooks.create(receiver.url, "plain", ["repo:push"], active=True)
    repo.hooks.create(receiver.url + "?off", "off", ["repo:push"], active=False)
    repo.hooks.create(receiver.url + "?fork", "fork", ["repo:fork"], active=True)
    work = _clone(world, git, tmp_path)
    commit_file(git, work, "a.txt", "a", "a")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    world.forge.admin.wait_idle()
    (record,) = world.forge.admin.deliveries()  # neither the inactive nor the fork hook
    assert "X-Hub-Signature" not in record["headers"]
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify("bitbucket", record["headers"], record["body"].encode(), SECRET)
