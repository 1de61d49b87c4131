"""Intake's transaction: record a delivery, queue its builds, supersede older ones.

Plain synchronous functions of a ``RawConnection``, run by ``store.fastpath.writer.Writer``
(one transaction each, grouped on SQLite). The statements are ``Prepared`` (compiled once)
because they run for every push.

``stage`` decides a delivery at once but leaves its rows to the end of the transaction
(``RawConnection.before_commit``), where the deliveries staged together are written in
the order they came. A build that a later push of the same group supersedes is then
inserted ``superseded`` instead of inserted ``queued`` and updated, and older queued
builds of a ref take one update per group: the rows, ids and answers are those of
recording the deliveries one after the other. ``record`` is ``stage`` written at once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select

import webhooks
from buildsvc.builds import store
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.status_context import rule_contexts
from buildsvc.intake.errors import HookNotFound
from buildsvc.intake.triggers import (
    Decision,
    Planned,
    StoredRule,
    commit_sha,
    compile_rules,
    decide,
    unchecked,
)
from buildsvc.notifications import intake as notify
from buildsvc.notifications.events import has_targets
from buildsvc.repositories.rules import Rule
from buildsvc.store.fastpath.prepared import Prepared, RawConnection
from buildsvc.store.models import BuildRule, Delivery, ImageRepository

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
    # ref -> why its head commit message could not be read (``intake.commit_lookup``)
    unchecked: Mapping[str, str] = field(default_factory=dict)


_REPOSITORY_COLUMNS = 7  # then the rule's, NULL when the repository has no rule
_REPOSITORY_RULES = Prepared(
    select(
        ImageRepository.account_id,
        ImageRepository.namespace,
        ImageRepository.name,
        ImageRepository.provider,
        ImageRepository.auto_build,
        ImageRepository.forge_hook_id,
        has_targets(ImageRepository.id),  # then builds' events are recorded (notifications)
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
    """``stage`` and write at once: the delivery, its builds and the supersede."""
    staged = stage(registry, repository_id, parsed, now, connection, enqueued=enqueued)
    connection.finish()
    return staged.result()


def stage(
    registry: str,
    repository_id: int,
    parsed: Parsed,
    now: dt.datetime,
    connection: RawConnection,
    *,
    enqueued: bool = False,
) -> Staged:
    """Decide the delivery; its rows are written before the transaction commits, and
    ``Staged.result()`` is its answer from then on. A delivery id stored before makes
    the delivery's insert fail (unique constraint), failing the transaction: the caller
    then answers with ``seen``.

    ``enqueued``: the builds' jobs are sent right after the commit (``Outbox.enqueue_recorded``
    puts the ones that do not make it back in the outbox), so their rows say so at once.
    """
    stored = _repository_rules(connection, repository_id)
    account_id, namespace, name, provider, auto_build, hook_id, notified = stored.repository
    outcome = parsed.outcome
    parts: list[_Part] = []
    if parsed.pushes:
        decided = [
            (e, _decide(hook_id is not None, auto_build, stored, e, now, parsed.unchecked))
            for e in parsed.pushes
        ]
        outcome = decided[0][1].outcome
        if len(decided) > 1:
            outcome = "; ".join(f"{e.ref}: {d.outcome}" for e, d in decided)
        image = f"{registry}/{namespace}/{name}"
        for event, decision in decided:
            rows = [
                _build_row(
                    repository_id, account_id, image, event, planned, now, stored.contexts, enqueued
                )
                for planned in decision.builds
            ]
            if rows:
                notice = {"id": repository_id, "namespace": namespace, "name": name}
                notify = notice if notified else None
                parts.append(_Part(repository_id, event.ref, now, rows, notify))
    delivery = {
        "repository_id": repository_id,
        "delivery_id": parsed.delivery_id,
        "provider": provider,
        "event": parsed.event,
        "ref": parsed.ref,
        "commit_sha": parsed.sha,
        "outcome": outcome,
        "build_ids": [],
        "received_at": now,
    }
    staged = Staged(delivery, parts)
    _batch(connection).staged.append(staged)
    return staged


def _batch(connection: RawConnection) -> _Batch:
    """The transaction's batch, written before it commits."""
    found: _Batch | None = connection.memo.get(_BATCH)
    if found is None:
        found = connection.memo[_BATCH] = _Batch()
        connection.before_commit.append(functools.partial(found.write, connection))
    return found


@dataclass(slots=True)
class _Part:
    """One event's builds (one ref), until written."""

    repository_id: int
    ref: str
    now: dt.datetime
    rows: list[dict[str, Any]]
    notify: dict[str, Any] | None = None  # the repository, when it has notification targets
    ids: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)  # by this part's builds


@dataclass(slots=True)
class Staged:
    """A delivery decided in a transaction, written before it commits."""

    delivery: dict[str, Any]  # the row, its build ids filled when written
    parts: list[_Part]
    written: Received | None = None

    def result(self) -> Received:
        if self.written is None:
            raise RuntimeError("the transaction did not write its staged deliveries")
        return self.written


_BATCH = "intake_db.batch"


@dataclass(slots=True)
class _Batch:
    """The deliveries staged in one transaction, in order."""

    staged: list[Staged] = field(default_factory=list)

    def write(self, connection: RawConnection) -> None:
        connection.memo.pop(_BATCH, None)  # what is staged from now on makes a new batch
        parts = [part for staged in self.staged for part in staged.parts]
        # Each part's builds are superseded by the next part of the same repository
        # and ref, if there is one in the batch; the first such part of the batch
        # supersedes the ref's builds queued before it.
        later: list[_Part | None] = [None] * len(parts)
        first: dict[tuple[int, str], _Part] = {}
        for index in range(len(parts) - 1, -1, -1):
            key = (parts[index].repository_id, parts[index].ref)
            later[index] = first.get(key)
            first[key] = parts[index]
        for part, successor in zip(parts, later, strict=True):
            for row in part.rows:
                if successor is not None:
                    row["status"] = BuildStatus.SUPERSEDED.value
                    row["finished_at"] = successor.now
                part.ids.append(store.insert_build(connection, row))
            if successor is not None:
                successor.superseded.extend(part.ids)
        older: dict[int, list[int]] = {}  # by the part that superseded them
        for (repository_id, ref), part in first.items():
            # Older builds of the ref still waiting are pointless now that a newer push came.
            older[id(part)] = store.supersede_queued(
                connection, repository_id, ref, min(part.ids), part.now
            )
            part.superseded[:0] = older[id(part)]
        for part in parts:
            if part.notify is not None:
                built = zip(part.ids, part.rows, strict=True)
                notify.record(connection, part.notify, older.get(id(part), ()), built, part.now)
        for staged in self.staged:
            delivery = staged.delivery
            delivery["build_ids"] = [i for part in staged.parts for i in part.ids]
            _INSERT_DELIVERY.run(connection, delivery)
            superseded = tuple(i for part in staged.parts for i in part.superseded)
            staged.written = Received(
                delivery["delivery_id"], delivery["outcome"], delivery["build_ids"], superseded
            )


@dataclass(frozen=True, slots=True)
class _Rules:
    repository: tuple[Any, ...]
    rules: list[StoredRule]
    compiled: list[Rule]  # triggers.compile_rules(rules)
    contexts: Mapping[int, str]  # each rule's status name


def _repository_rules(connection: RawConnection, repository_id: int) -> _Rules:
    """The repository's columns, its rules (compiled) and their status names, read once
    per transaction: deliveries recorded together (one group of ``store.fastpath.writer``) share
    them, as nothing in intake's transaction changes them."""
    key = ("intake_db.repository_rules", repository_id)
    found: _Rules | None = connection.memo.get(key)
    if found is None:
        rows = _REPOSITORY_RULES.run(connection, {"repository_id": repository_id})
        if not rows:  # deleted since the hook was cached
            raise HookNotFound
        rules = [_rule(row[_REPOSITORY_COLUMNS:]) for row in rows if row[_REPOSITORY_COLUMNS]]
        repository = rows[0][:_REPOSITORY_COLUMNS]
        contexts = rule_contexts(repository[1], repository[2], rules)
        found = _Rules(repository, rules, compile_rules(rules), contexts)
        connection.memo[key] = found
    return found


def _rule(values: tuple[Any, ...]) -> StoredRule:
    return StoredRule(*values)


def _decide(
    hooked: bool,
    auto_build: bool,
    stored: _Rules,
    event: webhooks.PushEvent,
    now: dt.datetime,
    unread: Mapping[str, str],
) -> Decision:
    if not hooked:  # unbound: the hook is no longer ours
        return Decision(UNBOUND)
    decision = decide(
        event, auto_build=bool(auto_build), rules=stored.rules, now=now, compiled=stored.compiled
    )
    return unchecked(decision, unread.get(event.ref))


def _build_row(
    repository_id: int,
    account_id: int,
    image: str,
    event: webhooks.PushEvent,
    planned: Planned,
    now: dt.datetime,
    contexts: Mapping[int, str],
    enqueued: bool,
) -> dict[str, Any]:
    rule = planned.rule
    return {
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
        "finished_at": None,
    }
