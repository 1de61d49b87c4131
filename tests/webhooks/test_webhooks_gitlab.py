"""GitLab Push Hook and Tag Push Hook deliveries (payloads in payloads/gitlab/)."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from tests.common.webhook_payloads import encode, load, only_push
from webhooks import InvalidPayload, PushEvent, UnsupportedEvent, parse

PUSH, TAG = "Push Hook", "Tag Push Hook"


def deliver(data: Any, event: str = PUSH, **headers: str) -> PushEvent:
    return only_push(parse("gitlab", {"X-Gitlab-Event": event, **headers}, encode(data)))


def test_branch_push() -> None:
    push = deliver(load("gitlab/push.json"), **{"Idempotency-Key": "idem-1"})
    assert (push.provider, push.delivery_id, push.repository) == (
        "gitlab",
        "idem-1",
        "acme/web-shop",
    )
    assert (push.ref_type, push.ref_name, push.created, push.deleted) == (
        "branch",
        "main",
        False,
        False,
    )
    assert (push.before, push.after) == (
        "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    )
    assert [commit.sha[:7] for commit in push.commits] == ["b6568db", "da15608"]
    assert push.head_commit == push.commits[-1]
    assert push.commits[0].message == "Update the catalogue page\n"
    assert push.commits[0].author_name == "Jane Doe"
    assert push.commits[0].timestamp is not None
    assert push.commits[0].timestamp.utcoffset() == timedelta(hours=2)
    assert push.changed_paths == {
        "web/catalogue.html",
        "web/index.html",
        "Dockerfile",
        "scripts/legacy.sh",
    }
    assert push.paths_complete
    assert (push.pusher, push.clone_url) == ("jdoe", "https://gitlab.example.com/acme/web-shop.git")


def test_branch_creation_and_deletion() -> None:
    created = deliver(load("gitlab/push_created.json"))
    assert (created.ref_name, created.created, created.before) == ("feature/cart", True, None)
    assert created.head_commit is not None
    assert created.head_commit.sha == created.after
    assert created.paths_complete  # GitLab listed the new branch's commit with its paths
    deleted = deliver(load("gitlab/push_deleted.json"))
    assert (deleted.deleted, deleted.after, deleted.head_commit, deleted.paths_complete) == (
        True,
        None,
        None,
        False,
    )


def test_subgroup_project_keeps_its_full_path() -> None:
    push = deliver(load("gitlab/push_subgroup.json"))
    assert push.repository == "acme/platform/frontend/web-shop"
    assert push.clone_url == "https://gitlab.example.com/acme/platform/frontend/web-shop.git"


def test_tag_push_of_an_annotated_tag() -> None:
    push = deliver(load("gitlab/tag_push.json"), TAG)
    assert (push.ref, push.ref_type, push.ref_name, push.created) == (
        "refs/tags/v2.0.0",
        "tag",
        "v2.0.0",
        True,
    )
    assert push.after == "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"  # the tag object
    assert push.head_commit is not None
    assert push.head_commit.sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"  # checkout_sha


def test_tag_deletion() -> None:
    push = deliver(load("gitlab/tag_push_deleted.json"), TAG)
    assert (push.ref_type, push.deleted, push.after, push.before) == (
        "tag",
        True,
        None,
        "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
    )


@pytest.mark.parametrize("event", ["System Hook", "Merge Request Hook", "Pipeline Hook"])
def test_system_hooks_and_other_events_are_unsupported(event: str) -> None:
    with pytest.raises(UnsupportedEvent) as caught:
        deliver(load("gitlab/system_hook_push.json"), event)
    assert caught.value.event == event


def test_more_commits_than_listed_means_paths_unknown() -> None:
    data = load("gitlab/push.json") | {"total_commits_count": 25}
    push = deliver(data)
    assert len(push.commits) == 2
    assert not push.paths_complete


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Idempotency-Key": "a", "X-Gitlab-Event-UUID": "b", "webhook-id": "c"}, "a"),
        ({"X-Gitlab-Event-UUID": "b", "webhook-id": "c"}, "b"),
        ({"webhook-id": "c"}, "c"),
        ({}, None),
    ],
)
def test_delivery_id_precedence(headers: dict[str, str], expected: str | None) -> None:
    assert deliver(load("gitlab/push.json"), **headers).delivery_id == expected


def test_repository_path_falls_back_to_the_homepage() -> None:
    data = load("gitlab/push.json")
    del data["project"]
    push = deliver(data)
    assert push.repository == "acme/web-shop"
    assert (
        push.clone_url == "https://gitlab.example.com/acme/web-shop.git"
    )  # repository.git_http_url


def test_without_any_repository_path_the_payload_is_invalid() -> None:
    data = load("gitlab/push.json")
    del data["project"], data["repository"]
    with pytest.raises(InvalidPayload) as caught:
        deliver(data)
    assert caught.value.reason == "missing_field"


def test_title_stands_in_for_a_missing_message_and_offsets_without_colon_parse() -> None:
    data = load("gitlab/push.json")
    del data["commits"][0]["message"]
    data["commits"][0]["timestamp"] = "2024-02-28T14:27:31+0200"
    commit = deliver(data).commits[0]
    assert commit.message == "Update the catalogue page"
    assert commit.timestamp is not None
    assert commit.timestamp.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)
