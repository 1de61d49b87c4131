"""What a push event means for one image repository: which builds, or why none.

Pure (no I/O). Webhook intake records ``Decision.outcome`` on the delivery, so a user can
see why a push did or did not build. Checked in this order:

1. ``branch deleted`` / ``tag deleted``: nothing to build;
2. ``auto build off``: the repository builds only on request;
3. ``skipped: [skip ci]``: a skip marker (``[skip build]``, ``[build skip]``,
   ``[ci skip]``, ``[skip ci]``, any case) in the head commit message (read from the
   forge when the payload has none: ``intake.commit_lookup``);
4. ``no rule matched refs/heads/dev``;
5. ``skipped: no changed path matches rule 7's include_paths`` (each matched rule's reason,
   ``repositories.path_filters``; a push whose paths are unknown always builds);
6. ``queued 1 build`` / ``queued 2 builds``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from buildsvc.builds.status_context import NamedRule
from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.path_filters import filtered_reason
from buildsvc.repositories.rules import Rule, RuleMatch, compile_rule, match_rules
from webhooks import PushEvent

SKIP_MARKERS = ("[skip build]", "[build skip]", "[ci skip]", "[skip ci]")
AUTO_BUILD_OFF = "auto build off"


class RuleRow(NamedRule, Protocol):
    """A stored build rule: a ``BuildRule`` row, or ``StoredRule`` read without the ORM."""

    @property
    def build_args(self) -> Mapping[str, Any]: ...
    @property
    def secret_build_args(self) -> Sequence[Any]: ...
    @property
    def no_cache(self) -> bool: ...
    @property
    def include_paths(self) -> Sequence[Any]: ...
    @property
    def ignore_paths(self) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class StoredRule:
    id: int
    type: str
    pattern: str
    tag: str
    dockerfile: str
    context: str
    build_args: Mapping[str, Any]
    secret_build_args: Sequence[Any]
    no_cache: bool
    include_paths: Sequence[Any]
    ignore_paths: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Planned:
    """One build to queue: the rule (frozen into the build) and its rendered tags."""

    rule: RuleRow
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str
    builds: tuple[Planned, ...] = ()


def queued_outcome(count: int) -> str:
    return f"queued {count} build{'' if count == 1 else 's'}"


def unchecked(decision: Decision, reason: str | None) -> Decision:
    """A decision to build whose head commit message could not be read (so skip markers
    were not checked): its outcome says why (``intake.commit_lookup``)."""
    if reason is None or not decision.builds:
        return decision
    outcome = f"{decision.outcome} (commit message not checked: {reason})"
    return dataclasses.replace(decision, outcome=outcome)


def skip_marker(message: str | None) -> str | None:
    if not message:
        return None
    lowered = message.lower()
    return next((marker for marker in SKIP_MARKERS if marker in lowered), None)


def commit_sha(event: PushEvent) -> str:
    """The commit to build: the head commit (an annotated tag's ``after`` is the tag)."""
    return event.head_commit.sha if event.head_commit is not None else event.after or ""


@functools.lru_cache(maxsize=4096)
def _compiled(rule_type: str, pattern: str, tag: str) -> Rule | None:
    try:
        return compile_rule(rule_type, pattern, tag)
    except InvalidRule:  # stored before a validation was tightened: never matches
        return None


def compile_rules(rules: Sequence[RuleRow]) -> list[Rule]:
    """The stored rules compiled (once per distinct rule), each ``id`` the index of its
    row in ``rules``; rules that no longer compile are left out. What ``match`` takes."""
    compiled = []
    for index, row in enumerate(rules):
        rule = _compiled(row.type, row.pattern, row.tag)
        if rule is not None:
            compiled.append(dataclasses.replace(rule, id=index))
    return compiled


def match(
    rules: Sequence[RuleRow],
    event: PushEvent,
    now: dt.datetime,
    compiled: Sequence[Rule] | None = None,
) -> list[RuleMatch]:
    """Stored rules matched against the event's ref. Each match's ``rule.id`` is the
    index of its row in ``rules``; ``compiled``: ``compile_rules(rules)``, when the
    caller keeps it for several events."""
    if compiled is None:
        compiled = compile_rules(rules)
    return match_rules(compiled, event.ref_type, event.ref_name, commit_sha(event), now)


def decide(
    event: PushEvent,
    *,
    auto_build: bool,
    rules: Sequence[RuleRow],
    now: dt.datetime,
    compiled: Sequence[Rule] | None = None,
) -> Decision:
    if event.deleted:
        return Decision(f"{event.ref_type} deleted")
    if not auto_build:
        return Decision(AUTO_BUILD_OFF)
    marker = skip_marker(event.head_commit.message if event.head_commit else None)
    if marker is not None:
        return Decision(f"skipped: {marker}")
    matches = match(rules, event, now, compiled)
    if not matches:
        return Decision(f"no rule matched {event.ref}")
    planned, filtered = [], []
    for found in matches:
        rule = rules[found.rule.id or 0]
        reason = filtered_reason(
            rule.id,
            rule.include_paths,
            rule.ignore_paths,
            event.changed_paths,
            event.paths_complete,
        )
        if reason is None:
            planned.append(Planned(rule, found.tags))
        else:
            filtered.append(reason)
    if not planned:
        return Decision("skipped: " + "; ".join(filtered))
    return Decision(queued_outcome(len(planned)), tuple(planned))
