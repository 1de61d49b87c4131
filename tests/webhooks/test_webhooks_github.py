"""GitHub push and ping deliveries (payloads in payloads/github/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.common.webhook_payloads import encode, load, only_push
from webhooks import InvalidPayload, PingEvent, PushEvent, UnsupportedEvent, github, parse
from webhooks._core import Headers

DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def deliver(data: Any, event: str = "push", **headers: str) -> list[PushEvent | PingEvent]:
    body = data if isinstance(data, bytes) else encode(data)
    return parse(
        "github", {"X-GitHub-Event": event, "X-GitHub-Delivery": DELIVERY, **headers}, body
    )


def test_branch_push() -> None:
    push = only_push(deliver(load("github/push_branch.json")))
    assert (push.provider, push.delivery_id) == ("github", DELIVERY)
    assert (push.repository, push.ref, push.ref_type, push.ref_name) == (
        "octo-org/octo-repo",
        "refs/heads/main",
        "branch",
        "main",
    )
    assert push.before == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert push.after == "0123456789abcdef0123456789abcdef01234567"
    assert (push.created, push.deleted) == (False, False)
    assert [commit.sha[:7] for commit in push.commits] == ["c48f1a2", "0123456"]
    first = push.commits[0]
    assert (first.added, first.modified, first.removed) == (("Dockerfile",), ("README.md",), ())
    assert first.author_name == "Mona Octocat"
    assert first.timestamp == datetime(2024, 3, 1, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert first.url == f"https://github.com/octo-org/octo-repo/commit/{first.sha}"
    assert push.head_commit == push.commits[-1]
    assert push.head_commit.message.startswith("Serve on port 8080\n")
    assert push.changed_paths == {"Dockerfile", "README.md", "old/config.ini", "app/main.py"}
    assert push.paths_complete
    assert push.pusher == "mona"
    assert push.clone_url == "https://github.com/octo-org/octo-repo.git"


def test_branch_creation_without_new_commits_has_unknown_paths() -> None:
    push = only_push(deliver(load("github/push_branch_created.json")))
    assert (push.ref_name, push.created, push.deleted, push.before) == (
        "feature/login",
        True,
        False,
        None,
    )
    assert push.after == "c48f1a2d0e3f8a7b6c5d4e3f2a1b0c9d8e7f6a5b"
    assert push.head_commit is not None
    assert push.head_commit.sha == push.after
    assert push.commits == ()
    assert not push.paths_complete  # a new branch must build even with a path filter


def test_branch_deletion() -> None:
    push = only_push(deliver(load("github/push_branch_deleted.json")))
    assert (push.ref, push.created, push.deleted, push.after) == (
        "refs/heads/feature/login",
        False,
        True,
        None,
    )
    assert push.before == "c48f1a2d0e3f8a7b6c5d4e3f2a1b0c9d8e7f6a5b"
    assert (push.head_commit, push.commits, push.paths_complete) == (None, (), False)


def test_tag_push_and_deletion() -> None:
    created = only_push(deliver(load("github/push_tag.json")))
    assert (created.ref_type, created.ref_name, created.created, created.before) == (
        "tag",
        "v1.2.0",
        True,
        None,
    )
    assert created.after == "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"  # the annotated tag object
    assert created.head_commit is not None
    assert created.head_commit.sha == "0123456789abcdef0123456789abcdef01234567"
    deleted = only_push(deliver(load("github/push_tag_deleted.json")))
    assert (deleted.ref_type, deleted.deleted, deleted.after) == ("tag", True, None)


def test_ping_for_a_repository_hook() -> None:
    (ping,) = deliver(load("github/ping.json"), event="ping")
    assert ping == PingEvent(
        provider="github",
        delivery_id=DELIVERY,
        hook_id="30001",
        zen="Design for failure.",
        repository="octo-org/octo-repo",
    )


def test_ping_without_repository_takes_the_hook_id_header() -> None:
    (ping,) = deliver({"zen": "Keep it simple."}, event="ping", **{"X-GitHub-Hook-ID": "77"})
    assert isinstance(ping, PingEvent)
    assert (ping.hook_id, ping.repository) == ("77", None)


@pytest.mark.parametrize(
    ("event", "fixture"),
    [
        ("create", "github/create_tag.json"),
        ("delete", "github/delete_branch.json"),
        ("issues", "github/ping.json"),
    ],
)
def test_events_other_than_push_and_ping_are_unsupported(event: str, fixture: str) -> None:
    with pytest.raises(UnsupportedEvent) as caught:
        deliver(load(fixture), event=event)
    assert (caught.value.reason, caught.value.event) == ("event", event)


def test_header_names_are_case_insensitive() -> None:
    body = encode(load("github/push_branch.json"))
    events = parse("github", {"x-github-event": "push", "X-GITHUB-DELIVERY": "d"}, body)
    assert only_push(events).delivery_id == "d"


def test_missing_event_header_is_invalid() -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse("github", {}, encode(load("github/push_branch.json")))
    assert caught.value.reason == "missing_header"


def test_form_encoded_delivery() -> None:
    data = load("github/push_branch.json")
    body = urlencode({"payload": encode(data).decode()}).encode()
    form = deliver(body, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert form == deliver(data)


def test_push_of_a_ref_outside_heads_and_tags_is_unsupported() -> None:
    data = load("github/push_branch.json") | {"ref": "refs/notes/commits"}
    with pytest.raises(UnsupportedEvent) as caught:
        deliver(data)
    assert caught.value.reason == "ref"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ref", None, "missing_field"),
        ("after", 42, "bad_field"),
        ("after", "not-a-sha", "bad_field"),
        ("repository", None, "missing_field"),
    ],
)
def test_malformed_essential_fields_are_invalid(field: str, value: object, reason: str) -> None:
    data = load("github/push_branch.json")
    data[field] = value
    with pytest.raises(InvalidPayload) as caught:
        deliver(data)
    assert caught.value.reason == reason


def test_malformed_descriptive_fields_do_not_drop_the_push() -> None:
    data = load("github/push_branch.json")
    data["commits"][0]["timestamp"] = "yesterday"
    data["commits"][0]["url"] = "javascript:alert(1)"
    data["commits"][1]["added"] = [None]
    data["commits"].append({"id": "not-a-sha"})
    data["pusher"] = "mona"
    push = only_push(deliver(data))
    assert [commit.sha[:7] for commit in push.commits] == ["c48f1a2", "0123456"]
    assert (push.commits[0].timestamp, push.commits[0].url) == (None, None)
    assert not push.paths_complete  # a path list and a commit were unusable
    assert push.pusher == "mona"  # from sender.login


def test_uppercase_shas_are_normalised() -> None:
    data = load("github/push_branch.json")
    data["after"] = data["after"].upper()
    data["commits"][0]["id"] = data["commits"][0]["id"].upper()
    push = only_push(deliver(data))
    assert push.after == "0123456789abcdef0123456789abcdef01234567"
    assert push.commits[0].sha == "c48f1a2d0e3f8a7b6c5d4e3f2a1b0c9d8e7f6a5b"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["commits"][1].update(added=[], modified=[], removed=[]),  # too large to list
        lambda d: d["commits"][0].update(
            modified=[f"f{i}" for i in range(github.MAX_FILES_PER_COMMIT)]
        ),
        lambda d: d["commits"].extend([d["commits"][0]] * github.MAX_COMMITS),
        lambda d: d.pop("commits"),
    ],
)
def test_paths_are_incomplete_when_github_may_have_cut_them(change: Any) -> None:
    data = load("github/push_branch.json")
    change(data)
    assert not only_push(deliver(data)).paths_complete


def test_repository_name_falls_back_to_owner_and_name() -> None:
    data = load("github/push_branch.json")
    del data["repository"]["full_name"], data["repository"]["clone_url"]
    push = only_push(deliver(data))
    assert push.repository == "octo-org/octo-repo"
    assert push.clone_url == "https://github.com/octo-org/octo-repo.git"  # html_url + .git


def test_strict_and_lenient_paths_agree() -> None:
    data = load("github/push_branch.json")
    body = encode(data)
    strict = github._event(github._Push.model_validate_json(body), True, None)
    lenient = github._event(*github._lenient(data), None)
    assert strict == lenient
    assert strict.commits[1].timestamp == datetime(2024, 3, 1, 11, 30, tzinfo=UTC)


def test_provider_module_takes_normalised_headers() -> None:
    body = encode(load("github/push_branch.json"))
    assert github.parse(Headers({"X-GitHub-Event": "push"}), body) == parse(
        "github", {"x-github-event": "push"}, body
    )
