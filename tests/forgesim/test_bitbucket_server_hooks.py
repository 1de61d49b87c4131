"""Repository webhooks over atlassian-python-api, the "Test connection" ping, and the
``repo:refs_changed`` deliveries a real git push sends, checked with ``webhooks.parse``
and ``webhooks.verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from requests import HTTPError

import webhooks
from tests.forgesim.bitbucket_server_world import ServerWorld, world_at
from tests.forgesim.conftest import Receiver, commit_file

SECRET = "server-hook-secret"
ZERO = "0" * 40


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ServerWorld]:
    with world_at(tmp_path / "forge") as seeded:
        yield seeded


def _records(world: ServerWorld, count: int) -> list[dict[str, Any]]:
    found = world.forge.admin.wait_for_deliveries(count)
    assert len(found) == count, found
    return sorted(found, key=lambda d: d["id"])


def test_webhook_crud(world: ServerWorld, receiver: Receiver) -> None:
    bb = world.client()
    hook = bb.create_webhook(
        "PRJ", "app", "buildsvc", ["repo:refs_changed"], receiver.url, True, secret=SECRET
    )
    assert (hook["name"], hook["events"], hook["active"]) == (
        "buildsvc",
        ["repo:refs_changed"],
        True,
    )
    assert hook["configuration"] == {"secret": SECRET}
    assert [h["id"] for h in bb.get_webhooks("PRJ", "app")] == [hook["id"]]
    assert list(bb.get_webhooks("PRJ", "app", event="pr:opened")) == []
    updated = bb.update_webhook("PRJ", "app", hook["id"], active=False, name="paused")
    assert (updated["active"], updated["name"]) == (False, "paused")
    bb.delete_webhook("PRJ", "app", hook["id"])
    with pytest.raises(HTTPError) as gone:
        bb.get_webhook("PRJ", "app", hook["id"])
    assert gone.value.response.status_code == 404
    with pytest.raises(HTTPError) as invalid:
        bb.create_webhook("PRJ", "app", "x", ["repo:nothing"], receiver.url, True)
    assert invalid.value.response.status_code == 400


def test_test_connection_sends_a_ping(world: ServerWorld, receiver: Receiver) -> None:
    bb = world.client()
    hook = bb.create_webhook(
        "PRJ", "app", "ci", ["repo:refs_changed"], receiver.url, True, secret=SECRET
    )
    url = "rest/api/1.0/projects/PRJ/repos/app/webhooks/test"
    result = bb.post(url, params={"webhookId": hook["id"]})
    assert result["response"]["statusCode"] == 200
    (record,) = _records(world, 1)
    assert record["headers"]["X-Event-Key"] == "diagnostics:ping"
    raw = record["body"].encode()
    webhooks.verify("bitbucket-server", record["headers"], raw, SECRET)
    (ping,) = webhooks.parse("bitbucket-server", record["headers"], raw)
    assert isinstance(ping, webhooks.PingEvent)


def test_refs_changed_deliveries(
    world: ServerWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    world.client().create_webhook(
        "PRJ", "app", "ci", ["repo:refs_changed"], receiver.url, True, secret=SECRET
    )
    work = tmp_path / "work"
    url = world.forge.git_url_with_token("PRJ/app", world.tokens["alice"], "alice")
    git("clone", "-q", url, str(work))
    first = commit_file(git, work, "Dockerfile", "FROM scratch\n", "first")
    git("push", "-q", "origin", "HEAD:main", "HEAD:develop", cwd=work)
    _records(world, 1)
    second = commit_file(git, work, "app.py", "print(1)\n", "second")
    git("tag", "v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", ":develop", "v1", cwd=work)
    records = _records(world, 2)
    parsed = []
    for record in records:
        assert record["headers"]["X-Event-Key"] == "repo:refs_changed"
        assert record["headers"]["X-Hub-Signature"].startswith("sha256=")
        raw = record["body"].encode()
        webhooks.verify("bitbucket-server", record["headers"], raw, SECRET)
        parsed.append(webhooks.parse("bitbucket-server", record["headers"], raw))
    assert {(e.ref, e.created, e.after) for e in parsed[0]} == {
        ("refs/heads/develop", True, first),
        ("refs/heads/main", True, first),
    }
    deleted, moved, tagged = parsed[1]
    assert (deleted.ref, deleted.deleted, deleted.after) == ("refs/heads/develop", True, None)
    assert (moved.ref, moved.before, moved.after, moved.created) == (
        "refs/heads/main",
        first,
        second,
        False,
    )
    assert (tagged.ref, tagged.created, tagged.repository) == ("refs/tags/v1", True, "PRJ/app")
    body = json.loads(records[1]["body"])
    assert [c["type"] for c in body["changes"]] == ["DELETE", "UPDATE", "ADD"]
    assert body["changes"][0]["toHash"] == ZERO
    assert body["actor"]["name"] == "alice"
    assert body["date"].endswith("+0000")
    git("push", "-q", "origin", ":refs/tags/v1", cwd=work)
    untag = _records(world, 3)[2]
    webhooks.verify("bitbucket-server", untag["headers"], untag["body"].encode(), SECRET)
    (gone,) = webhooks.parse("bitbucket-server", untag["headers"], untag["body"].encode())
    assert (gone.ref, gone.deleted, gone.after, gone.before) == ("refs/tags/v1", True, None, second)


def test_unsubscribed_hook_gets_nothing(
    world: ServerWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    world.client().create_webhook("PRJ", "site", "prs", ["pr:opened"], receiver.url, True)
    work = tmp_path / "work"
    url = world.forge.git_url_with_token("PRJ/site", world.tokens["alice"], "alice")
    git("clone", "-q", url, str(work))
    commit_file(git, work, "a.txt", "a", "a")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    world.forge.admin.wait_idle()
    assert world.forge.admin.deliveries() == []


def test_failing_webhook_trips_the_circuit_breaker(
    world: ServerWorld, receiver: Receiver, git: Any, tmp_path: Path
) -> None:
    receiver.status = 500
    bb = world.client()
    hook = bb.create_webhook("PRJ", "app", "ci", ["repo:refs_changed"], receiver.url, True)
    work = tmp_path / "work"
    git(
        "clone",
        "-q",
        world.forge.git_url_with_token("PRJ/app", world.tokens["alice"], "alice"),
        str(work),
    )
    commit_file(git, work, "a.txt", "a", "a")
    for index in range(6):  # one delivery per push: five failures open the breaker
        git("push", "-q", "origin", f"HEAD:b{index}", cwd=work)
    world.forge.admin.wait_idle()
    assert [d["status"] for d in world.forge.admin.deliveries()] == [500] * 5
    url = "rest/api/1.0/projects/PRJ/repos/app/webhooks/test"
    tested = bb.post(url, params={"webhookId": hook["id"]})  # "Test connection" still goes out
    assert tested["response"]["statusCode"] == 500
    receiver.status = 200
    bb.update_webhook("PRJ", "app", hook["id"], name="ci")  # saving it closes the breaker
    git("push", "-q", "origin", "HEAD:b6", cwd=work)
    world.forge.admin.wait_idle()
    assert [d["status"] for d in world.forge.admin.deliveries()] == [500] * 6 + [200]
