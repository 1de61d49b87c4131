"""What a push means for a repository: the outcome strings and planned builds (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from buildsvc.intake.triggers import decide, queued_outcome, skip_marker
from buildsvc.store.models import BuildRule
from webhooks import Commit, PushEvent

OLD = "1" * 40
NEW = "2" * 40
NOW = dt.datetime(2024, 5, 17, tzinfo=dt.UTC)


def rule(
    type_: str = "branch", pattern: str = "main", tag: str = "latest", **extra: Any
) -> BuildRule:
    values: dict[str, Any] = {"include_paths": [], "ignore_paths": [], "build_args": {}}
    values.update(extra)
    return BuildRule(type=type_, pattern=pattern, tag=tag, **values)


def push(
    ref: str = "refs/heads/main",
    *,
    message: str = "Change things",
    deleted: bool = False,
    paths: tuple[str, ...] = ("app.py",),
    complete: bool = True,
) -> PushEvent:
    ref_type = "branch" if ref.startswith("refs/heads/") else "tag"
    name = ref.split("/", 2)[2]
    head = (
        None
        if deleted
        else Commit(
            sha=NEW, message=message, author_name="A", timestamp=None, url=None, modified=paths
        )
    )
    return PushEvent(
        provider="gitlab",
        delivery_id="d-1",
        repository="acme/app",
        ref=ref,
        ref_type=ref_type,
        ref_name=name,
        before=OLD,
        after=None if deleted else NEW,
        created=False,
        deleted=deleted,
        head_commit=head,
        commits=() if head is None else (head,),
        changed_paths=frozenset() if head is None else frozenset(paths),
        paths_complete=complete and not deleted,
        pusher="alice",
        clone_url=None,
    )


def test_queued_builds_with_tags() -> None:
    rules = [rule(), rule(pattern="/.+/", tag="{branch}-{short_sha}"), rule("tag", "/.+/", "{tag}")]
    decision = decide(push(), auto_build=True, rules=rules, now=NOW)
    assert decision.outcome == "queued 2 builds"
    assert [(p.rule, p.tags) for p in decision.builds] == [
        (rules[0], ("latest",)),
        (rules[1], ("main-2222222",)),
    ]


@pytest.mark.parametrize(
    ("event", "auto_build", "outcome"),
    [
        (push(deleted=True), True, "branch deleted"),
        (push("refs/tags/v1", deleted=True), True, "tag deleted"),
        (push(), False, "auto build off"),
        (push(message="Fix typo [skip build]"), True, "skipped: [skip build]"),
        (push(message="docs\n\n[Build Skip]"), True, "skipped: [build skip]"),
        (push(message="[CI SKIP] nothing"), True, "skipped: [ci skip]"),
        (push(message="chore [skip ci]"), True, "skipped: [skip ci]"),
        (push("refs/heads/dev"), True, "no rule matched refs/heads/dev"),
        (push("refs/tags/v1"), True, "no rule matched refs/tags/v1"),
    ],
)
def test_outcomes(event: PushEvent, auto_build: bool, outcome: str) -> None:
    decision = decide(event, auto_build=auto_build, rules=[rule()], now=NOW)
    assert decision.outcome == outcome
    assert decision.builds == ()


def test_path_filters() -> None:
    filtered = [rule(include_paths=["src/"])]
    assert decide(push(paths=("README.md",)), auto_build=True, rules=filtered, now=NOW).outcome == (
        "skipped: no changed path matches the rule's include_paths"
    )
    assert decide(push(paths=("src/a.py",)), auto_build=True, rules=filtered, now=NOW).builds
    unknown = push(paths=("README.md",), complete=False)
    assert decide(unknown, auto_build=True, rules=filtered, now=NOW).outcome == "queued 1 build"


def test_skip_marker_and_counts() -> None:
    assert skip_marker(None) is None
    assert skip_marker("skip build") is None
    assert queued_outcome(1) == "queued 1 build"
    assert queued_outcome(3) == "queued 3 builds"
