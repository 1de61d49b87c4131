"""Bitbucket Cloud repo:push deliveries (payloads in payloads/bitbucket/)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.common.webhook_payloads import encode, load
from webhooks import InvalidPayload, PushEvent, UnsupportedEvent, parse

X = "1e65c05c1d5171631d92438a13901ca7dae9618c"
M = "03f4a7270240708834de475bcf21532d6134777e"
Y = "709d658dc5b6d6afcd46049c2f332ee3f515a67d"
Z = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
W = "fe98dc76ba54fe98dc76ba54fe98dc76ba54fe98"


def deliver(data: Any, event: str = "repo:push") -> list[PushEvent]:
    headers = {"X-Event-Key": event, "X-Request-UUID": "req-1", "X-Attempt-Number": "1"}
    events = parse("bitbucket", headers, encode(data))
    assert all(isinstance(event, PushEvent) for event in events)
    return events  # type: ignore[return-value]


def test_one_event_per_change_in_order() -> None:
    main, feature, tag, old_tag = deliver(load("bitbucket/push_several.json"))
    summary = [
        (e.ref, e.ref_type, e.ref_name, e.before, e.after, e.created, e.deleted)
        for e in (main, feature, tag, old_tag)
    ]
    assert summary == [
        ("refs/heads/main", "branch", "main", X, Y, False, False),
        ("refs/heads/feature/search", "branch", "feature/search", None, Z, True, False),
        ("refs/tags/v1.0", "tag", "v1.0", None, Y, True, False),
        ("refs/tags/v0.9", "tag", "v0.9", W, None, False, True),
    ]
    for event in (main, feature, tag, old_tag):
        assert (event.provider, event.delivery_id, event.repository) == (
            "bitbucket",
            "req-1",
            "acme-team/web-shop",
        )
        assert (event.pusher, event.clone_url) == (
            "jdoe",
            "https://bitbucket.org/acme-team/web-shop.git",
        )
        assert (event.changed_paths, event.paths_complete) == (
            frozenset(),
            False,
        )  # Bitbucket sends no paths


def test_commits_are_oldest_first_with_the_head_from_the_new_target() -> None:
    main = deliver(load("bitbucket/push_several.json"))[0]
    assert [commit.sha for commit in main.commits] == [M, Y]
    assert main.head_commit == main.commits[-1]
    assert main.head_commit.url == f"https://bitbucket.org/acme-team/web-shop/commits/{Y}"
    assert main.head_commit.message == "Fix the checkout total\n"
    assert [commit.author_name for commit in main.commits] == [
        "Sam Builder",
        "Jane Doe",
    ]  # raw, user


def test_deleted_ref_has_no_head_commit() -> None:
    old_tag = deliver(load("bitbucket/push_several.json"))[-1]
    assert (old_tag.head_commit, old_tag.commits) == (None, ())


def test_branch_deletion() -> None:
    data = load("bitbucket/push_several.json")
    main = data["push"]["changes"][0]
    main.update(new=None, closed=True, commits=[])
    (deleted,) = [event for event in deliver(data) if event.ref == "refs/heads/main"]
    assert (deleted.ref_type, deleted.deleted, deleted.created) == ("branch", True, False)
    assert (deleted.before, deleted.after, deleted.head_commit, deleted.commits) == (
        X,
        None,
        None,
        (),
    )


def test_mercurial_kinds_are_skipped_and_nothing_left_is_unsupported() -> None:
    data = load("bitbucket/push_several.json")
    for change in data["push"]["changes"]:
        for side in ("new", "old"):
            if change.get(side):
                change[side]["type"] = "named_branch"
    with pytest.raises(UnsupportedEvent) as caught:
        deliver(data)
    assert caught.value.reason == "ref"


def test_other_event_keys_are_unsupported() -> None:
    with pytest.raises(UnsupportedEvent):
        deliver(load("bitbucket/push_several.json"), "pullrequest:created")


def test_change_without_new_or_old_is_invalid() -> None:
    data = load("bitbucket/push_several.json")
    data["push"]["changes"][1] = {"new": None, "old": None}
    with pytest.raises(InvalidPayload):
        deliver(data)


def test_clone_url_when_the_html_link_is_not_the_repository_page() -> None:
    data = load("bitbucket/push_several.json")
    data["repository"]["links"]["html"]["href"] = "https://api.bitbucket.org/bitbucket/bitbucket"
    assert deliver(data)[0].clone_url == "https://bitbucket.org/acme-team/web-shop.git"
    data["repository"]["links"]["clone"] = [
        {"name": "ssh", "href": "git@bitbucket.org:acme-team/web-shop.git"},
        {"name": "https", "href": "https://jdoe@bitbucket.org/acme-team/web-shop.git"},
    ]
    assert deliver(data)[0].clone_url == "https://jdoe@bitbucket.org/acme-team/web-shop.git"
