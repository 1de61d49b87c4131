"""Intake's transaction: record a delivery, queue its builds, supersede older ones.

Plain synchronous functions of a ``RawConnection``, run by ``builds.writer.run_write`` (one
transaction each, grouped on SQLite). The statements are ``Prepared`` (compiled once)
because they run for every push.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update

import webhooks
from buildsvc.builds.prepared import Prepared, RawConnection
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.status_context import rule_contexts
from buildsvc.builds.triggers import (
    Decision,
    Planned,
    StoredRule,
    commit_sha,
    decide,
    unchecked,
)
from buildsvc.errors import NotFound
from buildsvc.store.models import Build, BuildRule, Delivery, ImageRepository

UNBOUND = "not built: the code source was unbound"


@dataclass(frozen=True, slots=True)
class Received:
    delivery: str
    outcome: str
    build_ids: list[int]
    superseded: tuple[int, ...] = ()  # older queued builds this delivery made pointless


@dataclass(frozen=True, slots=True)
class Parsed:
    """A verified delivery: push events to decide on, or an outcome already known."""

    delivery_id: str
    event: str
    ref: str | None = None
    sha: str | None = None
    pushes: Sequence[webhooks.PushEvent] = ()
    outcome: str = ""
    # ref -> why its head commit message could not be read (``builds.commit_lookup``)
    unchecked: Mapping[str, str] = field(default_factory=dict)


_REPOSITORY_COLUMNS = 6  # then the rule's, NULL when the repository has no rule
_REPOSITORY_RULES = Prepared(
    select(
        ImageRepository.account_id,
        ImageRepository.namespace,
        ImageRepository.name,
        ImageRepository.provider,
        ImageRepository.auto_build,
        ImageRepository.forge_hook_id,
        BuildRule.id,
        BuildRule.type,
        BuildRule.pattern,
        BuildRule.tag,
        BuildRule.dockerfile,
        BuildRule.context,
        BuildRule.build_args,
        BuildRule.secret_build_args,
        BuildRule.no_cache,
        BuildRule.include_paths,
        BuildRule.ignore_paths,
    )
    .select_from(ImageRepository)
    .outerjoin(BuildRule, BuildRule.repository_id == ImageRepository.id)
    .where(ImageRepository.id == bindparam("repository_id"))
    .order_by(BuildRule.position)
)
_SEEN = Prepared(
    select(Delivery.outcome, Delivery.build_ids).where(
        Delivery.repository_id == bindparam("repository_id"),
        Delivery.delivery_id == bindparam("delivery_id"),
    )
)
_BUILD_COLUMNS = (
    "account_id",
    "repository_id",
    "rule_id",
    "trigger",
    "ref",
    "ref_type",
    "ref_name",
    "commit_sha",
    "commit_message",
    "status_context",
    "dockerfile",
    "context",
    "build_args",
    "secret_build_args",
    "no_cache",
    "tags",
    "status",
    "enqueued",
    "cancel_requested",
    "attempt",
    "queued_at",
)
_INSERT_BUILD = Prepared(insert(Build).returning(Build.id), column_keys=_BUILD_COLUMNS)
_DELIVERY_COLUMNS = (
    "repository_id",
    "delivery_id",
    "provider",
    "event",
    "ref",
    "commit_sha",
    "outcome",
    "build_ids",
    "received_at",
)
_INSERT_DELIVERY = Prepared(insert(Delivery), column_keys=_DELIVERY_COLUMNS)
# Older builds of the ref still waiting are pointless now that a newer push came.
_SUPERSEDE = Prepared(
    update(Build)
    .where(
        Build.repository_id == bindparam("b_repository_id"),
        Build.ref == bindparam("b_ref"),
        Build.status == BuildStatus.QUEUED.value,
        Build.id < bindparam("b_newest"),
    )
    .values(status=BuildStatus.SUPERSEDED.value, finished_at=bindparam("b_now"))
    .returning(Build.id)  # their commits' statuses are finalised (builds.forge_status)
)


def seen(repository_id: int, delivery_id: str, connection: RawConnection) -> Received | None:
    """What a delivery id was answered before, if it was."""
    params = {"repository_id": repository_id, "delivery_id": delivery_id}
    rows = _SEEN.run(connection, params)
    if not rows:
        return None
    outcome, build_ids = rows[0]
    return Received(delivery_id, outcome, [int(i) for i in build_ids])


def record(
    registry: str,
    repository_id: int,
    parsed: Parsed,
    now: dt.datetime,
    connection: RawConnection,
    *,
    enqueued: bool = False,
) -> Received:
    """The delivery, its builds and the supersede. A delivery id stored before makes the
    delivery's insert fail (unique constraint): the caller then answers with ``seen``.

    ``enqueued``: the builds' jobs are sent right after the commit (``queue.enqueue_recorded``
    puts the ones that do not make it back in the outbox), so their rows say so at once.
    """
    repository, rules = _repository_rules(connection, repository_id)
    account_id, namespace, name, provider, auto_build, hook_id = repository
    outcome, build_ids = parsed.outcome, []
    superseded: list[int] = []
    if parsed.pushes:
        decided = [
            (e, _decide(hook_id is not None, auto_build, rules, e, now, parsed.unchecked))
            for e in parsed.pushes
        ]
        outcome = decided[0][1].outcome
        if len(decided) > 1:
            outcome = "; ".join(f"{e.ref}: {d.outcome}" for e, d in decided)
        image = f"{registry}/{namespace}/{name}"
        building = any(d.builds for _, d in decided)
        contexts = rule_contexts(namespace, name, rules) if building else {}
        for event, decision in decided:
            ids = [
                _insert_build(
                    connection,
                    repository_id,
                    account_id,
                    image,
                    event,
                    planned,
                    now,
                    contexts,
                    enqueued,
                )
                for planned in decision.builds
            ]
            if ids:
                supersede = {"b_repository_id": repository_id, "b_ref": event.ref}
                params = {**supersede, "b_newest": min(ids), "b_now": now}
                superseded.extend(row[0] for row in _SUPERSEDE.run(connection, params))
            build_ids.extend(ids)
    delivery = {
        "repository_id": repository_id,
        "delivery_id": parsed.delivery_id,
        "provider": provider,
        "event": parsed.event,
        "ref": parsed.ref,
        "commit_sha": parsed.sha,
        "outcome": outcome,
        "build_ids": build_ids,
        "received_at": now,
    }
    _INSERT_DELIVERY.run(connection, delivery)
    return Received(parsed.delivery_id, outcome, build_ids, tuple(superseded))


def _repository_rules(
    connection: RawConnection, repository_id: int
) -> tuple[tuple[Any, ...], list[StoredRule]]:
    """The repository's columns and its rules, read once per transaction: deliveries
    recorded together (one group of ``builds.writer``) share them, as nothing in
    intake's transaction changes them."""
    key = ("intake_db.repository_rules", repository_id)
    found: tuple[tuple[Any, ...], list[StoredRule]] | None = connection.memo.get(key)
    if found is None:
        rows = _REPOSITORY_RULES.run(connection, {"repository_id": repository_id})
        if not rows:  # deleted since the hook was cached
            raise NotFound("No such webhook.", code="HOOK_NOT_FOUND")
        rules = [_rule(row[_REPOSITORY_COLUMNS:]) for row in rows if row[_REPOSITORY_COLUMNS]]
        found = connection.memo[key] = (rows[0][:_REPOSITORY_COLUMNS], rules)
    return found


def _rule(values: tuple[Any, ...]) -> StoredRule:
    return StoredRule(*values)


def _decide(
    hooked: bool,
    auto_build: bool,
    rules: Sequence[StoredRule],
    event: webhooks.PushEvent,
    now: dt.datetime,
    unread: Mapping[str, str],
) -> Decision:
    if not hooked:  # unbound: the hook is no longer ours
        return Decision(UNBOUND)
    decision = decide(event, auto_build=bool(auto_build), rules=rules, now=now)
    return unchecked(decision, unread.get(event.ref))


def _insert_build(
    connection: RawConnection,
    repository_id: int,
    account_id: int,
    image: str,
    event: webhooks.PushEvent,
    planned: Planned,
    now: dt.datetime,
    contexts: Mapping[int, str],
    enqueued: bool,
) -> int:
    rule = planned.rule
    row = {
        "account_id": account_id,
        "repository_id": repository_id,
        "rule_id": rule.id,
        "trigger": "push",
        "ref": event.ref,
        "ref_type": event.ref_type,
        "ref_name": event.ref_name,
        "commit_sha": commit_sha(event),
        "commit_message": event.head_commit.message if event.head_commit else None,
        "status_context": contexts[rule.id],
        "dockerfile": rule.dockerfile,
        "context": rule.context,
        "build_args": dict(rule.build_args),
        "secret_build_args": list(rule.secret_build_args),
        "no_cache": bool(rule.no_cache),
        "tags": [f"{image}:{tag}" for tag in planned.tags],
        "status": BuildStatus.QUEUED.value,
        "enqueued": enqueued,
        "cancel_requested": False,
        "attempt": 0,
        "queued_at": now,
    }
    [(build_id,)] = _INSERT_BUILD.run(connection, row)
    return int(build_id)
