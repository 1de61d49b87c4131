"""Bitbucket Server / Data Center deliveries (payloads in payloads/bitbucket_server/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.common.webhook_payloads import encode, load, only_push
from webhooks import InvalidPayload, PingEvent, PushEvent, UnsupportedEvent, parse


def deliver(data: Any, event: str = "repo:refs_changed") -> list[PushEvent | PingEvent]:
    body = data if isinstance(data, bytes) else encode(data)
    return parse("bitbucket-server", {"X-Event-Key": event, "X-Request-Id": "req-9"}, body)


def test_one_event_per_ref_change() -> None:
    events = deliver(load("bitbucket_server/refs_changed_several.json"))
    assert all(isinstance(event, PushEvent) for event in events)
    summary = [
        (
            e.ref,
            e.ref_type,
            e.created,
            e.deleted,
            e.before and e.before[:7],
            e.after and e.after[:7],
        )
        for e in events
        if isinstance(e, PushEvent)
    ]
    assert summary == [
        ("refs/heads/main", "branch", False, False, "5c64a07", "823b223"),
        ("refs/heads/release/2.x", "branch", True, False, None, "823b223"),
        ("refs/tags/v2.0.0", "tag", True, False, None, "d6edcbf"),
        ("refs/heads/old-experiment", "branch", False, True, "208b0a5", None),
    ]
    for event in events:
        assert isinstance(event, PushEvent)
        assert (event.repository, event.delivery_id, event.pusher) == (
            "ACME/web-shop",
            "req-9",
            "jdoe",
        )
        assert (
            event.clone_url == "https://bitbucket.example.com/scm/acme/web-shop.git"
        )  # the http link
        assert (event.head_commit, event.commits, event.paths_complete) == (None, (), False)


def test_tag_deletion() -> None:
    data = load("bitbucket_server/refs_changed_several.json")
    tag = next(change for change in data["changes"] if change["ref"]["type"] == "TAG")
    created_at = tag["toHash"]
    tag.update(type="DELETE", fromHash=created_at, toHash="0" * 40)
    (deleted,) = [e for e in deliver(data) if isinstance(e, PushEvent) and e.ref_type == "tag"]
    assert (deleted.ref, deleted.deleted, deleted.created) == ("refs/tags/v2.0.0", True, False)
    assert (deleted.before, deleted.after, deleted.head_commit) == (created_at, None, None)


def test_newer_servers_send_commits_and_the_head() -> None:
    push = only_push(deliver(load("bitbucket_server/refs_changed_with_commits.json")))
    assert push.repository == "~JDOE/dotfiles"  # personal project
    assert [commit.message for commit in push.commits] == ["First change", "Second change"]
    assert push.head_commit == push.commits[-1]
    assert push.head_commit.timestamp == datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    assert push.head_commit.author_name == "Jane Doe"
    assert not push.paths_complete


def test_without_links_the_clone_url_is_unknown() -> None:
    data = load("bitbucket_server/refs_changed_several.json")
    del data["repository"]["links"]
    assert {event.clone_url for event in deliver(data) if isinstance(event, PushEvent)} == {None}


def test_diagnostics_ping() -> None:
    for body in (encode(load("bitbucket_server/diagnostics_ping.json")), b""):
        assert deliver(body, "diagnostics:ping") == [
            PingEvent(
                provider="bitbucket-server",
                delivery_id="req-9",
                hook_id=None,
                zen=None,
                repository=None,
            )
        ]


def test_refs_other_than_branches_and_tags_are_skipped() -> None:
    data = load("bitbucket_server/refs_changed_several.json")
    data["changes"][0]["refId"] = data["changes"][0]["ref"]["id"] = "refs/notes/commits"
    assert len(deliver(data)) == 3
    data["changes"] = data["changes"][:1]
    with pytest.raises(UnsupportedEvent):
        deliver(data)


@pytest.mark.parametrize("event", ["pr:opened", "repo:modified", "mirror:repo_synchronized"])
def test_other_events_are_unsupported(event: str) -> None:
    with pytest.raises(UnsupportedEvent):
        deliver(load("bitbucket_server/refs_changed_several.json"), event)


def test_missing_project_key_is_invalid() -> None:
    data = load("bitbucket_server/refs_changed_several.json")
    del data["repository"]["project"]
    with pytest.raises(InvalidPayload) as caught:
        deliver(data)
    assert caught.value.reason == "missing_field"


def test_absurd_commit_timestamps_degrade_to_none() -> None:
    data = load("bitbucket_server/refs_changed_with_commits.json")
    data["toCommit"]["authorTimestamp"] = 10**30
    data["commits"][0]["authorTimestamp"] = float("nan")
    push = only_push(deliver(data))
    assert push.head_commit is not None
    assert push.head_commit.timestamp is None
