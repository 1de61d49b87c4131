"""Project hooks over python-gitlab, and the Push / Tag Push Hooks a real git push sends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gitlab
import pytest

import forgesim
from forgesim import AdminError, Forge
from tests.forgesim.conftest import Receiver, World, commit_file, seed

ZERO = "0" * 40


def test_hook_crud(gl: gitlab.Gitlab, receiver: Receiver) -> None:
    project = gl.projects.get("acme/app")
    hook = project.hooks.create(
        {"url": receiver.url, "token": "hook-secret", "push_events": True, "tag_push_events": True}
    )
    assert (hook.url, hook.push_events, hook.tag_push_events) == (receiver.url, True, True)
    assert hook.enable_ssl_verification is True
    assert hook.alert_status == "executable"
    assert "token" not in hook.attributes
    assert [h.id for h in project.hooks.list()] == [hook.id]
    hook.push_events = False
    hook.save()
    assert project.hooks.get(hook.id).push_events is False
    project.hooks.delete(hook.id)
    assert project.hooks.list() == []
    with pytest.raises(gitlab.GitlabGetError) as caught:
        project.hooks.get(hook.id)
    assert caught.value.response_code == 404


def test_hook_needs_an_http_url(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get("acme/app")
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.hooks.create({"url": "ftp://127.0.0.1/x"})
    assert caught.value.response_code == 422


def _clone(forge: Forge, world: World, git: Any, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    git("clone", "-q", forge.git_url_with_token("acme/app", world.tokens["alice"]), str(work))
    return work


def _bodies(forge: Forge, count: int) -> list[dict[str, Any]]:
    found = forge.admin.wait_for_deliveries(count)
    assert len(found) == count, found
    return sorted(found, key=lambda d: d["id"])


def test_push_tag_and_delete_deliveries(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path, receiver: Receiver
) -> None:
    project = gl.projects.get("acme/app")
    hook = project.hooks.create(
        {"url": receiver.url, "token": "hook-secret", "push_events": True, "tag_push_events": True}
    )
    work = _clone(forge, world, git, tmp_path)
    first = commit_file(git, work, "README.md", "hello\n", "first")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    (work / "README.md").unlink()
    second = commit_file(git, work, "src/app.py", "x = 1\n", "second")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    git("tag", "v1", cwd=work)
    git("push", "-q", "origin", "v1", cwd=work)
    git("push", "-q", "origin", ":refs/tags/v1", cwd=work)
    records = _bodies(forge, 4)
    assert [r["event"] for r in records] == ["Push Hook", "Push Hook", "Tag Push Hook"] * 1 + [
        "Tag Push Hook"
    ]
    created, updated, tagged, untagged = (json.loads(r["body"]) for r in records)
    assert (created["before"], created["after"], created["ref"]) == (ZERO, first, "refs/heads/main")
    assert created["commits"][0]["added"] == ["README.md"]
    assert created["user_username"] == "alice"
    assert created["project"]["git_http_url"] == forge.git_url("acme/app")
    assert (updated["before"], updated["after"], updated["total_commits_count"]) == (
        first,
        second,
        1,
    )
    assert updated["commits"][0]["added"] == ["src/app.py"]
    assert updated["commits"][0]["removed"] == ["README.md"]
    assert (tagged["object_kind"], tagged["ref"], tagged["checkout_sha"]) == (
        "tag_push",
        "refs/tags/v1",
        second,
    )
    assert (untagged["after"], untagged["checkout_sha"], untagged["commits"]) == (ZERO, None, [])
    record = records[0]
    assert record["hook_id"] == hook.id
    assert record["status"] == 200
    assert record["headers"]["X-Gitlab-Token"] == "hook-secret"
    assert record["headers"]["X-Gitlab-Event"] == "Push Hook"
    assert record["headers"]["User-Agent"].startswith("GitLab/")
    assert {"X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "Idempotency-Key"} <= set(
        record["headers"]
    )
    assert len(receiver.requests) == 4
    assert receiver.requests[0].body == record["body"].encode()


def test_hook_event_switches(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path, receiver: Receiver
) -> None:
    project = gl.projects.get("acme/app")
    project.hooks.create({"url": receiver.url, "push_events": False, "tag_push_events": True})
    project.hooks.create({"url": receiver.url + "?filtered", "push_events_branch_filter": "rel*"})
    work = _clone(forge, world, git, tmp_path)
    commit_file(git, work, "a.txt", "a", "a")
    git("push", "-q", "origin", "HEAD:main", "HEAD:release-1", cwd=work)
    git("tag", "v2", cwd=work)
    git("push", "-q", "origin", "v2", cwd=work)
    records = _bodies(forge, 2)
    pairs = sorted((r["url"].endswith("filtered"), json.loads(r["body"])["ref"]) for r in records)
    assert pairs == [(False, "refs/tags/v2"), (True, "refs/heads/release-1")]


def test_new_branch_lists_only_new_commits(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path, receiver: Receiver
) -> None:
    work = _clone(forge, world, git, tmp_path)
    commit_file(git, work, "a.txt", "a", "a")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    gl.projects.get("acme/app").hooks.create({"url": receiver.url})
    git("push", "-q", "origin", "HEAD:feature", cwd=work)
    new = commit_file(git, work, "b.txt", "b", "b")
    git("push", "-q", "origin", "HEAD:other", cwd=work)
    same, fresh = (json.loads(r["body"]) for r in _bodies(forge, 2))
    assert (same["ref"], same["commits"], same["total_commits_count"]) == (
        "refs/heads/feature",
        [],
        0,
    )
    assert [c["id"] for c in fresh["commits"]] == [new]


def test_failing_hook_is_disabled(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.status = 500
    project = gl.projects.get("acme/app")
    hook = project.hooks.create({"url": receiver.url})
    work = _clone(forge, world, git, tmp_path)
    commit_file(git, work, "f.txt", "0", "c0")
    branches = [f"HEAD:b{index}" for index in range(4)]
    git("push", "-q", "origin", *branches, cwd=work)  # one delivery per branch: 4 failures
    assert len(forge.admin.wait_for_deliveries(4)) == 4
    assert {r["status"] for r in forge.admin.deliveries()} == {500}
    disabled = project.hooks.get(hook.id)
    assert disabled.alert_status == "temporarily_disabled"
    assert disabled.disabled_until is not None
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    forge.admin.wait_idle()
    assert len(forge.admin.deliveries()) == 4
    disabled.save()  # editing a hook re-enables it, as in GitLab
    assert project.hooks.get(hook.id).alert_status == "executable"


def test_unreachable_hook_is_recorded(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    gl.projects.get("acme/app").hooks.create({"url": "http://127.0.0.1:9/nothing"})
    work = _clone(forge, world, git, tmp_path)
    commit_file(git, work, "a.txt", "a", "a")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    (record,) = forge.admin.wait_for_deliveries(1)
    assert record["status"] is None
    assert "Connect" in record["error"] or "refused" in record["error"].lower()


def test_ssl_verification_switch(
    gl: gitlab.Gitlab, forge: Forge, world: World, git: Any, tmp_path: Path
) -> None:
    with forgesim.running("gitlab", tmp_path / "https", tls_self_signed=True) as https:
        project = gl.projects.get("acme/app")
        url = https.url + "/_forgesim/health"  # answers 405 to a POST, once TLS is through
        project.hooks.create({"url": url})
        project.hooks.create({"url": url + "?insecure", "enable_ssl_verification": False})
        work = _clone(forge, world, git, tmp_path)
        commit_file(git, work, "a.txt", "a", "a")
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        records = {r["url"]: r for r in forge.admin.wait_for_deliveries(2)}
    assert "certificate" in (records[url]["error"] or "").lower()
    assert records[url + "?insecure"]["status"] == 405


def test_slow_receiver_times_out_and_push_does_not_wait(
    tmp_path: Path, git: Any, receiver: Receiver
) -> None:
    receiver.delay = 1.5
    with forgesim.running("gitlab", tmp_path / "forge", delivery_timeout=0.3) as forge:
        world = seed(forge)
        gitlab.Gitlab(forge.url, private_token=world.tokens["alice"]).projects.get(
            "acme/app"
        ).hooks.create({"url": receiver.url})
        work = _clone(forge, world, git, tmp_path)
        commit_file(git, work, "a.txt", "a", "a")
        started = time.monotonic()
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        assert time.monotonic() - started < 1.5
        with pytest.raises(AdminError) as busy:  # the delivery is still waiting for an answer
            forge.admin.wait_idle(timeout=0.05)
        assert busy.value.status == 504
        forge.admin.wait_idle()
        (record,) = forge.admin.deliveries()
    assert record["status"] is None
    assert record["error"] == "timed out after 0.3 s"
