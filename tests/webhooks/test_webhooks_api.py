"""The public surface: names, the error tree, the models' own invariants, and header
names matched case-insensitively by every provider."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pydantic
import pytest

import webhooks
from tests.common.webhook_payloads import encode, hub_signature, load
from webhooks import (
    Commit,
    InvalidPayload,
    PingEvent,
    PushEvent,
    SignatureError,
    UnsupportedEvent,
    WebhookError,
    parse,
    verify,
)

SHA_A = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
SHA_B = "0123456789abcdef0123456789abcdef01234567"


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert sorted(webhooks.__all__) == sorted(
        [
            "parse",
            "verify",
            "PushEvent",
            "PingEvent",
            "Commit",
            "WebhookError",
            "InvalidPayload",
            "SignatureError",
            "UnsupportedEvent",
            "MAX_JSON_DEPTH",
            "json_too_deep",
        ]
    )
    public = {name for name in vars(webhooks) if not name.startswith("_")}
    modules = {"bitbucket", "bitbucket_server", "github", "gitlab"}  # provider modules
    assert public - modules == set(webhooks.__all__)


def test_error_tree_and_stable_codes() -> None:
    for leaf in (SignatureError, InvalidPayload, UnsupportedEvent):
        assert issubclass(leaf, WebhookError)
    assert SignatureError.code == "WEBHOOK_SIGNATURE_INVALID"
    assert InvalidPayload.code == "WEBHOOK_PAYLOAD_INVALID"
    assert UnsupportedEvent.code == "WEBHOOK_EVENT_UNSUPPORTED"
    error = UnsupportedEvent("m", provider="github", reason="event", event="create")
    assert (error.provider, error.reason, error.event, str(error)) == (
        "github",
        "event",
        "create",
        "m",
    )


@pytest.mark.parametrize(
    "call", [lambda: parse("gitea", {}, b"{}"), lambda: verify("svn", {}, b"", "s")]
)
def test_unknown_provider_is_unsupported(call: object) -> None:
    with pytest.raises(UnsupportedEvent) as caught:
        call()  # type: ignore[operator]
    assert caught.value.reason == "unknown_provider"


def event(**changes: object) -> PushEvent:
    fields: dict[str, object] = {
        "provider": "github",
        "delivery_id": "d-1",
        "repository": "octo/app",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "ref_name": "main",
        "before": SHA_A,
        "after": SHA_B,
        "created": False,
        "deleted": False,
        "head_commit": None,
        "commits": (),
        "changed_paths": frozenset(),
        "paths_complete": False,
        "pusher": "octo",
        "clone_url": "https://github.com/octo/app.git",
    }
    fields.update(changes)
    return PushEvent.model_validate(fields)


def test_push_event_is_frozen_and_hashable() -> None:
    push = event()
    with pytest.raises(pydantic.ValidationError):
        push.ref = "refs/heads/other"  # type: ignore[misc]
    assert hash(push) == hash(event())


@pytest.mark.parametrize(
    "changes",
    [
        {"ref": "refs/tags/main"},  # ref_type says branch
        {"ref_name": "other"},
        {"after": None},  # deleted must say so
        {"before": None},  # created must say so
        {"created": True, "deleted": True, "before": None, "after": None},
        {"after": SHA_B.upper()},
        {"after": "abc"},
        {"clone_url": "git@github.com:octo/app.git"},
        {"ref_type": "note"},
        {"provider": "gitea"},
        {"repository": ""},
    ],
)
def test_push_event_rejects_inconsistent_fields(changes: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        event(**changes)


def test_commit_validates_from_its_fields_or_the_github_gitlab_shape() -> None:
    when = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    own = Commit(sha=SHA_A, message="m", author_name="Mona", timestamp=when, url=None)
    forge = Commit.model_validate(
        {
            "id": SHA_A,
            "message": "m",
            "author": {"name": "Mona"},
            "timestamp": when,
            "distinct": True,
        }
    )
    assert own == forge
    with pytest.raises(pydantic.ValidationError):
        Commit(sha=SHA_A, timestamp=datetime(2024, 3, 1, 10, 0))  # naive: offset unknown


def test_ping_event_fields() -> None:
    ping = PingEvent(provider="github", delivery_id=None, hook_id="1", zen="z", repository=None)
    assert ping.model_dump() == {
        "provider": "github",
        "delivery_id": None,
        "hook_id": "1",
        "zen": "z",
        "repository": None,
    }


# provider -> (fixture, event headers, delivery-id header)
CASES = {
    "github": ("github/push_branch.json", {"X-GitHub-Event": "push"}, "X-GitHub-Delivery"),
    "gitlab": ("gitlab/push.json", {"X-Gitlab-Event": "Push Hook"}, "X-Gitlab-Event-UUID"),
    "bitbucket": ("bitbucket/push_several.json", {"X-Event-Key": "repo:push"}, "X-Request-UUID"),
    "bitbucket-server": (
        "bitbucket_server/refs_changed_several.json",
        {"X-Event-Key": "repo:refs_changed"},
        "X-Request-Id",
    ),
}
SIGNATURE = {
    "github": "X-Hub-Signature-256",
    "bitbucket": "X-Hub-Signature",
    "bitbucket-server": "X-Hub-Signature",
}


@pytest.mark.parametrize("provider", CASES)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_header_names_are_case_insensitive_for_every_provider(
    provider: str, case: Callable[[str], str]
) -> None:
    fixture, event_headers, delivery_header = CASES[provider]
    body = encode(load(fixture))
    secret = "case-secret"
    headers = {**event_headers, delivery_header: "delivery-7"}
    if provider == "gitlab":
        headers["X-Gitlab-Token"] = secret
    else:
        headers[SIGNATURE[provider]] = hub_signature(secret, body)
    cased = {case(name): value for name, value in headers.items()}
    verify(provider, cased, body, secret)
    events = parse(provider, cased, body)
    assert {event.delivery_id for event in events} == {"delivery-7"}
    assert parse(provider, headers, body) == events
