"""Builds started on request (REST API, console): by rule, by ref, or both.

``POST /api/v1/repositories/{id}/builds {"rule_id"?, "ref"?}``:

- ``ref`` and ``rule_id``: the ref must match the rule's pattern (exact name or regex);
- ``rule_id`` alone: the rule's own ref, when its pattern is an exact name; a regex rule
  needs a ``ref`` (``REF_REQUIRED``);
- ``ref`` alone: every rule the ref matches;
- neither: the repository's default branch, with every rule it matches.

A short ref (``main``, ``v1.2``) is taken as a branch, then as a tag, as the chosen rules
allow; ``refs/heads/…`` and ``refs/tags/…`` are taken as given. The ref is resolved to a
commit through the forge (``REF_NOT_FOUND`` when it does not exist there), so the build
fetches exactly what the ref named at request time. Then, as for a push, one queued
build per rule, older queued builds of the ref superseded, jobs enqueued, and the
forge told (in the background: ``pending`` for the new builds, a final status for the
superseded ones).

ServiceError
├── InvalidInput
│   ├── RefRequired        400 REF_REQUIRED
│   └── RefNotMatched      400 REF_NOT_MATCHED (no chosen rule matches the ref)
└── NotFound
    └── RuleNotFound       404 RULE_NOT_FOUND
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.bindings.access import SourceAccess
from buildsvc.builds import queue
from buildsvc.builds.forge_status import QueuedStatus
from buildsvc.builds.states import BuildStatus, transition
from buildsvc.builds.status_context import rule_contexts
from buildsvc.errors import InvalidInput, NotFound
from buildsvc.queue import LazyArqPool
from buildsvc.repositories import queries as repositories
from buildsvc.repositories.errors import InvalidRule
from buildsvc.repositories.links import source_link
from buildsvc.repositories.rules import Rule, compile_rule, match_rules, parse_ref
from buildsvc.sources import REF_NOT_FOUND
from buildsvc.store.models import Build, BuildRule, ImageRepository, utcnow

TRIGGERS = ("api", "console")


class RefRequired(InvalidInput):
    code = "REF_REQUIRED"
    default_message = "This rule matches a pattern; name the branch or tag to build."


class RefNotMatched(InvalidInput):
    code = "REF_NOT_MATCHED"
    default_message = "The branch or tag does not match the build rule."


class RuleNotFound(NotFound):
    code = "RULE_NOT_FOUND"
    default_message = "The build rule was not found in this image repository."


@dataclass(frozen=True, slots=True)
class ManualBuild:
    rule_id: int | None = None
    ref: str | None = None
    trigger: str = "api"


def _compiled(rows: Sequence[BuildRule]) -> list[tuple[BuildRule, Rule]]:
    pairs = []
    for row in rows:
        try:
            pairs.append((row, compile_rule(row.type, row.pattern, row.tag, rule_id=row.id)))
        except InvalidRule:  # saved before a validation was tightened: never matches
            continue
    return pairs


def _candidates(
    request: ManualBuild, repository: ImageRepository, rules: list[tuple[BuildRule, Rule]]
) -> list[str]:
    """Full refs to try, in order."""
    ref = (request.ref or "").strip()
    if not ref and request.rule_id is not None:
        row, rule = rules[0]
        if rule.pattern.is_regex:
            raise RefRequired(detail=f"rule {row.id} has the pattern {row.pattern}")
        return [f"refs/{'heads' if row.type == 'branch' else 'tags'}/{row.pattern}"]
    if not ref:
        return [f"refs/heads/{repository.default_branch or 'main'}"]
    if parse_ref(ref) is not None:
        return [ref]
    kinds = {row.type for row, _ in rules}
    return [f"refs/{p}/{ref}" for k, p in (("branch", "heads"), ("tag", "tags")) if k in kinds]


def _matching(rules: list[tuple[BuildRule, Rule]], full_ref: str) -> list[tuple[BuildRule, Rule]]:
    parsed = parse_ref(full_ref)
    if parsed is None:
        return []
    kind, name = parsed
    return [
        (row, rule)
        for row, rule in rules
        if rule.type == kind and rule.pattern.match(name) is not None
    ]


async def start_build(
    access: SourceAccess,
    pool: LazyArqPool,
    account_id: int,
    repository_id: int,
    request: ManualBuild,
    statuses: QueuedStatus,
) -> list[Build]:
    """Queue the builds ``request`` asks for; returns them (already enqueued if Redis is up)."""
    async with access.sessionmaker() as session:
        repository = await repositories.load(session, account_id, repository_id)
    link = source_link(repository)  # a plain repository has nothing to build
    rules = _compiled(repository.rules)
    if request.rule_id is not None:
        rules = [(row, rule) for row, rule in rules if row.id == request.rule_id]
        if not rules:
            raise RuleNotFound(detail=f"no rule {request.rule_id} in repository {repository_id}")
    candidates = _candidates(request, repository, rules)
    usable = [(ref, found) for ref in candidates if (found := _matching(rules, ref))]
    if not usable:
        which = f"rule {request.rule_id}" if request.rule_id is not None else "any rule"
        raise RefNotMatched(
            detail=f"{candidates[0] if candidates else request.ref} "
            f"does not match {which} of repository {repository_id}"
        )
    client = await access.client_for(account_id, link.provider)
    for index, (full_ref, matched) in enumerate(usable):
        try:
            sha = await client.resolve_ref(link.repository, full_ref)
        except NotFound as exc:  # a short name: maybe the tag of that name exists
            if exc.code != REF_NOT_FOUND or index == len(usable) - 1:
                raise
            continue
        builds, superseded = await _insert(
            access, repository, full_ref, sha, matched, request.trigger
        )
        await queue.enqueue(pool, access.sessionmaker, [b.id for b in builds])
        statuses.report([b.id for b in builds])
        statuses.report(superseded, "superseded")
        return builds
    raise AssertionError("unreachable: the last candidate raises")


@dataclass(frozen=True, slots=True)
class _Commit:
    ref: str  # refs/heads/main
    kind: str  # branch | tag
    name: str  # main
    sha: str


async def _insert(
    access: SourceAccess,
    repository: ImageRepository,
    full_ref: str,
    sha: str,
    matched: list[tuple[BuildRule, Rule]],
    trigger: str,
) -> tuple[list[Build], list[int]]:
    """The queued builds, and the older ones they superseded."""
    kind, name = parse_ref(full_ref) or ("branch", full_ref)
    commit = _Commit(full_ref, kind, name, sha)
    now = utcnow()
    image = f"{access.settings.registry}/{repository.namespace}/{repository.name}"
    contexts = rule_contexts(repository.namespace, repository.name, repository.rules)
    builds = [
        _build(repository, row, commit, trigger, [f"{image}:{tag}" for tag in found.tags])
        for row, rule in matched
        for found in match_rules([rule], kind, name, sha, now)  # none if every tag is empty
    ]
    for build in builds:  # its rule's status name, as for a push
        build.status_context = contexts.get(build.rule_id or 0)
    if not builds:
        raise RefNotMatched(detail=f"the rules' tags render empty for {full_ref}")
    async with access.sessionmaker.begin() as session:
        session.add_all(builds)
        await session.flush()
        newest = min(b.id for b in builds)
        superseded = await _supersede(session, repository.id, full_ref, newest, now)
    return builds, superseded


def _build(
    repository: ImageRepository, row: BuildRule, commit: _Commit, trigger: str, tags: list[str]
) -> Build:
    return Build(
        account_id=repository.account_id,
        repository_id=repository.id,
        rule_id=row.id,
        trigger=trigger if trigger in TRIGGERS else "api",
        ref=commit.ref,
        ref_type=commit.kind,
        ref_name=commit.name,
        commit_sha=commit.sha,
        commit_message=None,
        dockerfile=row.dockerfile,
        context=row.context,
        build_args=dict(row.build_args),
        secret_build_args=list(row.secret_build_args),
        no_cache=row.no_cache,
        tags=tags,
        status=BuildStatus.QUEUED.value,
        enqueued=False,
    )


async def _supersede(
    session: AsyncSession, repository_id: int, ref: str, newest: int, now: dt.datetime
) -> list[int]:
    """As for a push: older builds of the ref still waiting are pointless now (their ids)."""
    waiting = await session.scalars(
        select(Build.id).where(
            Build.repository_id == repository_id,
            Build.ref == ref,
            Build.status == BuildStatus.QUEUED.value,
            Build.id < newest,
        )
    )
    return [
        build_id
        for build_id in waiting.all()
        if await transition(session, build_id, BuildStatus.SUPERSEDED, now=now)
    ]
